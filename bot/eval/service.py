"""Read a labelled data set, diagnose each case on the live rule path, and score it."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.diagnosis.models import FAILURE_CLASSES, NOT_AN_INCIDENT, Evidence
from bot.diagnosis.rules import RuleEngine
from bot.errors import BadRequest
from bot.eval import messages
from bot.eval.models import (
    LABELS,
    CaseResult,
    ClassScore,
    EvalCase,
    EvalReport,
    Latency,
    Mistake,
)

# A live incident's log reaches the engine as evidence from this source.
EVIDENCE_SOURCE = "log"


class InvalidDataset(BadRequest):
    """A data set with malformed lines; `problems` names each line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def get_cases(path: Path) -> list[EvalCase]:
    """Every case of a JSON-lines file; blank lines are skipped.

    Raises InvalidDataset naming each malformed line, or BadRequest when the file cannot
    be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(messages.to_unreadable(path, exc)) from exc
    cases: list[EvalCase] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(EvalCase.model_validate_json(line))
        except ValidationError as exc:
            problems.append(messages.to_line_problem(path, number, exc))
    if problems:
        raise InvalidDataset(problems)
    if not cases:
        raise InvalidDataset([messages.to_empty(path)])
    return cases


def get_result(engine: RuleEngine, case: EvalCase) -> CaseResult:
    """Diagnose one case exactly as a live incident's log would be, and time it."""
    evidence = [Evidence(source=EVIDENCE_SOURCE, text=case.text)]
    started = time.perf_counter()
    diagnosis = engine.diagnose(evidence)
    latency_ms = (time.perf_counter() - started) * 1000
    return CaseResult(
        id=case.id,
        label=case.label,
        predicted=diagnosis.failure_class,
        confidence=diagnosis.confidence,
        latency_ms=latency_ms,
    )


def get_results(
    engine: RuleEngine,
    cases: Sequence[EvalCase],
    *,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    results = []
    for case in cases:
        result = get_result(engine, case)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def create_report(results: Sequence[CaseResult]) -> EvalReport:
    failures = [result for result in results if result.label != NOT_AN_INCIDENT]
    benign = [result for result in results if result.label == NOT_AN_INCIDENT]
    correct = sum(result.is_correct for result in failures)
    wrong = sum(is_failure_class(result.predicted) and not result.is_correct for result in failures)
    false_positives = sum(is_failure_class(result.predicted) for result in benign)
    latencies = sorted(result.latency_ms for result in results)
    return EvalReport(
        cases=len(results),
        failure_cases=len(failures),
        benign_cases=len(benign),
        accuracy=to_rate(correct, len(failures)),
        misdiagnosis_rate=to_rate(wrong, len(failures)),
        abstain_rate=to_rate(len(failures) - correct - wrong, len(failures)),
        false_positive_rate=to_rate(false_positives, len(benign)),
        latency_ms=Latency(
            p50=to_percentile(latencies, 0.50),
            p95=to_percentile(latencies, 0.95),
            p99=to_percentile(latencies, 0.99),
        ),
        per_class=to_per_class(results),
        mistakes=[to_mistake(result) for result in results if not result.is_correct],
    )


def to_per_class(results: Sequence[CaseResult]) -> dict[str, ClassScore]:
    """Precision and recall of every label that was given or predicted, in taxonomy order."""
    per_class: dict[str, ClassScore] = {}
    for label in LABELS:
        support = sum(result.label == label for result in results)
        predicted = sum(result.predicted == label for result in results)
        if not support and not predicted:
            continue
        hits = sum(result.label == label and result.is_correct for result in results)
        per_class[label] = ClassScore(
            precision=to_rate(hits, predicted), recall=to_rate(hits, support), support=support
        )
    return per_class


def to_mistake(result: CaseResult) -> Mistake:
    return Mistake(
        id=result.id,
        label=result.label,
        predicted=result.predicted,
        confidence=result.confidence,
    )


def is_failure_class(name: str) -> bool:
    return name in FAILURE_CLASSES


def to_rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def to_percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values, in ms rounded to 0.001."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


def to_json(report: EvalReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)
