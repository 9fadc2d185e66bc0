from __future__ import annotations

import io

from rich.console import Console

from bot.chaos.display import DrillDisplay, DrillLines, build_table, open_progress
from bot.chaos.models import Scenario, ScenarioScore
from bot.chaos.scenarios import load_scenarios
from tests.chaos.drill_reports import (
    FAILED_SCORE,
    PASSED_SCORES,
    create_mixed_report,
    create_report,
)


def get_scenario(name: str) -> Scenario:
    [scenario] = [scenario for scenario in load_scenarios() if scenario.name == name]
    return scenario


def create_console(*, terminal: bool = False, width: int = 200) -> Console:
    return Console(
        file=io.StringIO(), record=True, width=width, force_terminal=terminal, color_system=None
    )


def to_view_text(display: DrillDisplay) -> str:
    display.console.print(display.build_view())
    return display.console.export_text()


def test_live_view_shows_the_bar_and_the_running_scenarios_latest_step() -> None:
    display = DrillDisplay(create_console())
    scenario = get_scenario("bad-schema-approve")

    display.on_sandbox("Installing the chaos sandbox")
    display.on_started(scenario, 2, 7)
    display.on_step(scenario, "fault set")
    display.on_step(scenario, "incident opened")
    text = to_view_text(display)

    assert "Drills (7 scenarios)" in text
    assert "0/7" in text
    assert "[2/7] bad-schema-approve" in text
    assert "bad-schema-approve: incident opened" in text
    assert "fault set" not in text
    assert "Installing" not in text


def test_live_view_lists_finished_scenarios_as_rows() -> None:
    display = DrillDisplay(create_console())
    scenario = get_scenario("bad-schema-approve")

    display.on_started(scenario, 1, 3)
    display.on_step(scenario, "approved")
    display.on_finished(ScenarioScore.model_validate(PASSED_SCORES[1]))
    display.on_finished(ScenarioScore.model_validate(FAILED_SCORE))
    text = to_view_text(display)

    assert "2/3" in text
    [row] = [line for line in text.splitlines() if "bad-schema-approve" in line]
    assert "9.4 s" in row
    assert "passed" in row
    assert "spark-out-of-memory-approve-while-fault-present" in text
    assert "approved" not in text


def test_live_display_draws_while_open_and_clears_when_closed() -> None:
    console = create_console(terminal=True)
    scenario = get_scenario("control-no-fault")

    with DrillDisplay(console) as display:
        display.on_started(scenario, 1, 1)
        display.on_step(scenario, "DAG run triggered")
        display.live.refresh()

    assert "control-no-fault: DAG run triggered" in console.export_text()


def test_lines_print_one_line_per_event() -> None:
    console = create_console()
    lines = DrillLines(console)
    scenario = get_scenario("permission-denied-reject")

    lines.on_sandbox("Airflow sandbox started")
    lines.on_started(scenario, 1, 2)
    lines.on_step(scenario, "approver-1 rejected")
    lines.on_finished(ScenarioScore.model_validate(FAILED_SCORE))

    assert console.export_text().splitlines() == [
        "Airflow sandbox started",
        "[1/2] permission-denied-reject",
        "permission-denied-reject: approver-1 rejected",
        "spark-out-of-memory-approve-while-fault-present: failed in 99 s",
    ]


def test_progress_is_live_only_when_asked() -> None:
    console = create_console()

    with open_progress(console, live=False) as progress:
        assert isinstance(progress, DrillLines)
    with open_progress(console, live=True) as progress:
        assert isinstance(progress, DrillDisplay)


def test_results_table_has_a_row_per_scenario_and_the_totals() -> None:
    console = create_console(width=160)

    console.print(build_table(create_mixed_report()))
    text = console.export_text()

    assert "Chaos drills: 3 passed, 1 failed, 1 skipped" in text
    rows = {line.split()[1]: line for line in text.splitlines() if line.startswith("│ ")}
    assert set(rows) >= {score.name for score in create_mixed_report().scenarios}
    assert "│ 21.0 s " in rows["spark-out-of-memory-no-answer"]
    assert "│ 95.0 s " in rows["spark-out-of-memory-no-answer"]
    assert "│ wrong class " in rows[FAILED_SCORE["name"]]
    assert rows["spark-missing-input-approve"].rstrip(" │").endswith("skipped")
    assert "FAILED, audit chain intact, 337.0 s" in text
    assert "faults detected 3/3 · failure class right 2/3" in text
    assert "rollbacks run 0 (expected 1)" in text


def test_results_table_flags_a_broken_audit_chain() -> None:
    console = create_console()

    console.print(build_table(create_report(*PASSED_SCORES, audit_chain_intact=False)))

    assert "FAILED, audit chain BROKEN" in console.export_text()
