"""The whole drill set through `incident-bot chaos run`, as a team would run it (chaos tier).

One run of every built-in scenario against the real sandbox: the pipeline fails for real, the
bot diagnoses from the real log, scripted approvers click through the Slack endpoint, and the
score is read from Airflow's event log, the audit log and the stand-ins. Runs only with
INCIDENT_BOT_CHAOS=1; a sandbox that cannot be installed skips it, saying so loudly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.chaos.cli import EXIT_NOT_INSTALLED
from bot.chaos.environment import get_java
from bot.chaos.scenarios import BUILTIN_DIR, get_scenarios

REPOSITORY = Path(__file__).resolve().parents[2]
SANDBOX_ROOT = Path(os.environ.get("INCIDENT_BOT_CHAOS_ROOT") or REPOSITORY / "var" / "chaos")
# The issue's bound for the whole set on 2 cores; the test allows set-up on top.
DRILL_SET_SECONDS = 15 * 60

pytestmark = [
    pytest.mark.chaos,
    # The first test pays for the module's one drill run (install, start, every scenario).
    pytest.mark.timeout(DRILL_SET_SECONDS + 600),
    pytest.mark.skipif(
        os.environ.get("INCIDENT_BOT_CHAOS") != "1",
        reason="chaos tier skipped: set INCIDENT_BOT_CHAOS=1 to run the drills on the real sandbox",
    ),
]


@pytest.fixture(scope="module")
def drill_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """Run `incident-bot chaos run --format json --report DIR` once for the module."""
    report_dir = tmp_path_factory.mktemp("drill-report")
    command = [
        str(Path(sys.executable).with_name("incident-bot")),
        "chaos",
        "run",
        "--format",
        "json",
        "--report",
        str(report_dir),
        "--root",
        str(SANDBOX_ROOT),
    ]
    result = subprocess.run(  # noqa: S603 - the project's own CLI
        command, capture_output=True, text=True, timeout=DRILL_SET_SECONDS + 300, check=False
    )
    if result.returncode == EXIT_NOT_INSTALLED:
        banner = f"CHAOS TIER SKIPPED: the sandbox could not be installed\n{result.stderr[-2000:]}"
        print(f"\n{'!' * 72}\n{banner}\n{'!' * 72}", file=sys.__stderr__)
        pytest.skip(banner)
    assert result.stdout.strip(), f"no JSON on stdout; stderr:\n{result.stderr[-4000:]}"
    report = json.loads(result.stdout)
    failed = [s for s in report["scenarios"] if s["verdict"] == "failed"]
    assert result.returncode == (1 if failed else 0), result.stderr[-4000:]
    return report, report_dir


def test_every_scenario_passes_within_the_time_bound(drill_run) -> None:
    report, _ = drill_run
    problems = {s["name"]: s["problems"] for s in report["scenarios"] if s["problems"]}
    assert problems == {}
    assert report["totals"]["seconds"] < DRILL_SET_SECONDS
    names = {scenario.name for scenario in get_scenarios(BUILTIN_DIR).scenarios}
    assert {s["name"] for s in report["scenarios"]} == names


def test_only_spark_scenarios_without_java_are_skipped(drill_run) -> None:
    report, _ = drill_run
    skipped = {s["name"] for s in report["scenarios"] if s["verdict"] == "skipped"}
    expected = (
        set()
        if get_java().is_usable
        else {s["name"] for s in report["scenarios"] if s["fault"].startswith("spark-")}
    )
    assert skipped == expected


def test_totals_show_what_the_issue_asks(drill_run) -> None:
    report, _ = drill_run
    totals = report["totals"]
    assert totals["detection_rate"] == 1.0
    assert totals["playbook_right"] == totals["class_right"] == totals["faults"]
    assert totals["writes_before_approval"] == 0
    assert totals["alerts_lost"] == 0
    assert totals["duplicate_actions"] == 0
    assert totals["audit_chain_intact"] is True
    assert totals["rollbacks_run"] == totals["rollbacks_expected"] > 0


def test_rollback_and_escalation_exactly_where_expected(drill_run) -> None:
    report, _ = drill_run
    ran = [s for s in report["scenarios"] if s["verdict"] != "skipped"]
    assert [s["rollback_run"] for s in ran] == [s["rollback_expected"] for s in ran]
    assert [s["escalated"] for s in ran] == [s["escalation_expected"] for s in ran]
    assert [s["outcome"] for s in ran] == [s["expected_outcome"] for s in ran]


def test_approving_while_the_fault_is_present_always_fails_verification(drill_run) -> None:
    report, _ = drill_run
    present = [
        s
        for s in report["scenarios"]
        if s["verdict"] != "skipped" and s["behaviour"] == "approve-while-fault-present"
    ]
    assert present
    assert all(s["verification_failed"] for s in present)


def test_every_alert_has_its_thread_and_ticket(drill_run) -> None:
    report, _ = drill_run
    faults = [s for s in report["scenarios"] if s["verdict"] != "skipped" and s["fault"] != "none"]
    assert all(s["alerts_sent"] >= 1 for s in faults)
    assert all(s["seconds_to_thread"] is not None for s in faults)
    assert all(s["has_ticket"] is True and s["tickets"] == 1 for s in faults)


def test_dependency_faults_were_all_driven(drill_run) -> None:
    report, _ = drill_run
    driven = {fault for s in report["scenarios"] for fault in s["dependency_faults"]}
    assert driven == {"slack-errors", "jira-down", "redis-restart", "llm-overloaded"}
    felt = {fault: count for s in report["scenarios"] for fault, count in s["faults_felt"].items()}
    assert felt.keys() == driven
    assert all(count > 0 for count in felt.values()), felt


def test_report_has_markdown_and_charts(drill_run) -> None:
    report, report_dir = drill_run
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert all(s["name"] in markdown for s in report["scenarios"])
    charts = sorted(report_dir.glob("*.png"))
    assert len(charts) == 2
    assert all(chart.read_bytes().startswith(b"\x89PNG") for chart in charts)
