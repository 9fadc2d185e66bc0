from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.diagnosis.models import FAILURE_CLASSES
from bot.diagnosis.rules import RuleEngine
from bot.eval.models import CaseResult
from bot.eval.service import (
    InvalidDataset,
    create_report,
    get_cases,
    get_results,
    to_percentile,
)
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue

DATA = Path(__file__).parent
DEVSET = DATA / "devset.jsonl"
HOLDOUT = DATA / "holdout.jsonl"


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine(load_catalogue(builtin_runbooks_dir()))


def result(label: str, predicted: str, latency_ms: float = 1.0) -> CaseResult:
    return CaseResult(
        id=f"{label}-{predicted}",
        label=label,
        predicted=predicted,
        confidence=0.9,
        latency_ms=latency_ms,
    )


def test_report_rates_split_failure_and_benign_cases() -> None:
    results = [
        result("out-of-memory", "out-of-memory"),
        result("disk-full", "out-of-memory"),
        result("code-bug", "unknown"),
        result("data-quality", "none"),
        result("none", "none"),
        result("none", "expired-credential"),
    ]

    report = create_report(results)

    assert (report.cases, report.failure_cases, report.benign_cases) == (6, 4, 2)
    assert report.accuracy == 0.25
    assert report.misdiagnosis_rate == 0.25
    assert report.abstain_rate == 0.5
    assert report.false_positive_rate == 0.5
    assert report.per_class["out-of-memory"].model_dump() == {
        "precision": 0.5,
        "recall": 1.0,
        "support": 1,
    }
    assert report.per_class["none"].model_dump() == {
        "precision": 0.5,
        "recall": 0.5,
        "support": 2,
    }
    assert report.per_class["expired-credential"].support == 0
    assert "schema-drift" not in report.per_class
    assert [mistake.id for mistake in report.mistakes] == [
        "disk-full-out-of-memory",
        "code-bug-unknown",
        "data-quality-none",
        "none-expired-credential",
    ]


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.5, 50.0), (0.95, 95.0), (0.99, 99.0), (1.0, 100.0)]
)
def test_percentile_is_nearest_rank(fraction: float, expected: float) -> None:
    values = [float(value) for value in range(1, 101)]

    assert to_percentile(values, fraction) == expected


def test_cases_ignore_extra_fields_and_accept_numeric_ids(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    line = {"id": 7, "text": "log", "label": "none", "platform": "airflow", "notes": {"a": 1}}
    path.write_text(json.dumps(line) + "\n\n")

    cases = get_cases(path)

    assert [(case.id, case.label) for case in cases] == [("7", "none")]


def test_malformed_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "a", "text": "ok", "label": "none"}\n'
        "{not json\n"
        '{"id": "c", "text": "x"}\n'
        '{"id": "d", "text": "x", "label": "flaky"}\n'
    )

    with pytest.raises(InvalidDataset) as raised:
        get_cases(path)

    problems = raised.value.problems
    assert [problem.split(": ")[1] for problem in problems] == ["line 2", "line 3", "line 4"]
    assert "label: Field required" in problems[1]
    assert "label: must be one of schema-drift" in problems[2]


def test_empty_dataset_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")

    with pytest.raises(InvalidDataset, match="holds no cases"):
        get_cases(path)


def test_devset_has_the_required_coverage() -> None:
    cases = get_cases(DEVSET)

    labels = [case.label for case in cases]
    assert len(cases) >= 80
    assert labels.count("none") >= 15
    assert set(labels) == {*FAILURE_CLASSES, "none"}
    assert len({case.id for case in cases}) == len(cases)


def test_devset_meets_the_targets(engine: RuleEngine) -> None:
    cases = get_cases(DEVSET)
    get_results(engine, cases[:5])

    report = create_report(get_results(engine, cases))

    assert report.accuracy >= 0.92, report.mistakes
    assert report.misdiagnosis_rate <= 0.03, report.mistakes
    assert report.false_positive_rate <= 0.05, report.mistakes
    assert report.latency_ms.p99 < 20.0


def test_holdout_set_is_well_formed() -> None:
    cases = get_cases(HOLDOUT)

    assert len(cases) >= 20
    assert not {case.id for case in cases} & {case.id for case in get_cases(DEVSET)}
