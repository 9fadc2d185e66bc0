from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from bot.chaos.models import DrillReport
from bot.chaos.report import OUTCOME_CHART, TIMES_CHART, build_markdown, to_json, write_report
from tests.chaos.drill_reports import (
    FAILED_SCORE,
    PASSED_SCORES,
    SKIPPED_SCORE,
    create_mixed_report,
    create_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def get_png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which must come first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_json_is_one_object_with_scenarios_and_totals() -> None:
    report = create_mixed_report()

    data = json.loads(to_json(report))

    assert set(data) == {"scenarios", "totals"}
    assert [score["name"] for score in data["scenarios"]] == [
        score.name for score in report.scenarios
    ]
    assert data["scenarios"][3]["problems"] == FAILED_SCORE["problems"]
    assert data["totals"]["failed"] == 1
    assert DrillReport.model_validate(data) == report


def test_report_writes_markdown_and_two_readable_charts(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "drills"

    path = write_report(create_mixed_report(), folder)

    assert path == folder / "report.md"
    markdown = path.read_text(encoding="utf-8")
    for chart in (TIMES_CHART, OUTCOME_CHART):
        assert f"]({chart})" in markdown
        width, height = get_png_size(folder / chart)
        assert 800 <= width <= 2000
        assert 300 <= height <= 2000
        assert (folder / chart).stat().st_size > 10_000


def test_chart_height_grows_with_the_number_of_scenarios(tmp_path: Path) -> None:
    write_report(create_report(*PASSED_SCORES[:1]), tmp_path / "one")
    write_report(create_mixed_report(), tmp_path / "five")

    for chart in (TIMES_CHART, OUTCOME_CHART):
        _, one = get_png_size(tmp_path / "one" / chart)
        _, five = get_png_size(tmp_path / "five" / chart)
        assert five > one


def test_report_of_no_scenarios_still_writes_its_files(tmp_path: Path) -> None:
    path = write_report(create_report(), tmp_path)

    assert "# Chaos drill report" in path.read_text(encoding="utf-8")
    assert get_png_size(tmp_path / TIMES_CHART)[0] > 0


def test_markdown_names_every_scenario_and_the_problems_of_each_failure() -> None:
    report = create_mixed_report()

    markdown = build_markdown(report)

    for score in report.scenarios:
        assert f"| {score.name} |" in markdown
    problems = markdown.split("## Problems", 1)[1]
    assert f"### {FAILED_SCORE['name']} (failed)" in problems
    for problem in FAILED_SCORE["problems"]:
        assert f"- {problem}" in problems
    assert f"### {SKIPPED_SCORE['name']} (skipped)" in problems
    assert "- skipped: no Java runtime found" in problems
    assert "bad-schema-approve" not in problems


def test_markdown_summary_gives_the_verdict_totals_and_audit_chain() -> None:
    markdown = build_markdown(create_mixed_report())

    assert "**FAILED**. Chaos drills: 3 passed, 1 failed, 1 skipped." in markdown
    assert "| faults detected | 3/3 |" in markdown
    assert "| writes before approval (Airflow, secrets) | 1 |" in markdown
    assert "| rollbacks run | 0 (expected 1) |" in markdown
    assert "| alerts lost / sent | 1/4 |" in markdown
    assert "| audit chain | intact |" in markdown


def test_markdown_row_shows_what_went_wrong_in_a_failed_scenario() -> None:
    markdown = build_markdown(create_mixed_report())

    [row] = [line for line in markdown.splitlines() if line.startswith(f"| {FAILED_SCORE['name']}")]
    cells = [cell.strip() for cell in row.strip("|").split(" | ")]
    assert cells[3:] == [
        "14.0 s",
        "wrong: code-bug",
        "wrong: code-bug-escalate",
        "1",
        "escalated (expected rolled_back)",
        "missing",
        "unexpected, 60.0 s",
        "1/2",
        "1",
        "failed",
    ]


@pytest.mark.parametrize(
    ("intact", "verdict", "chain"),
    [(True, "**PASSED**", "intact"), (False, "**FAILED**", "BROKEN")],
)
def test_clean_run_says_so_unless_the_audit_chain_broke(
    intact: bool, verdict: str, chain: str
) -> None:
    markdown = build_markdown(create_report(*PASSED_SCORES, audit_chain_intact=intact))

    assert markdown.splitlines()[2].startswith(verdict)
    assert f"| audit chain | {chain} |" in markdown
    assert "None: every scenario that ran did what it was expected to." in markdown


def test_markdown_cells_escape_pipes() -> None:
    score = {**PASSED_SCORES[1], "failure_class": "a|b", "class_right": False}

    markdown = build_markdown(create_report(score))

    assert "| wrong: a\\|b |" in markdown
