"""Words people read about chaos scenarios and the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.chaos.models import Scenario


def to_not_a_mapping(path: Path) -> str:
    return f"{path}: a scenario must be a YAML mapping with name, fault, dag_id, expected..."


def to_duplicate_name(path: Path, name: str, first: Path) -> str:
    return f"{path}: name: '{name}' is already defined in {first}"


def to_missing_folder(path: Path) -> str:
    return f"{path}: no such file or folder of scenarios"


def to_load_failed(problems: list[str]) -> str:
    count = len(problems)
    header = f"{count} problem{'s' if count != 1 else ''} in the chaos scenarios:"
    return "\n".join([header, *problems])


def to_java_missing(reason: str) -> str:
    return f"Spark scenarios are skipped: {reason}"


def to_installing(path: Path) -> str:
    return f"Installing the chaos sandbox into {path} (first use, a few minutes)"


def to_install_failed(path: Path, tail: str) -> str:
    return f"installing the chaos sandbox into {path} failed:\n{tail}"


def to_not_healthy(seconds: float, detail: str) -> str:
    return f"the Airflow sandbox was not healthy after {seconds:.0f} s: {detail}"


def to_process_exited(name: str, code: int | None, log: Path) -> str:
    return f"sandbox process {name} exited with code {code}; see {log}"


def to_run_timeout(dag_id: str, run_id: str, seconds: float) -> str:
    return f"DAG run {dag_id}/{run_id} did not finish within {seconds:.0f} s"


def to_dry_run_line(name: str, steps: list[str]) -> str:
    return f"{name}: " + "; ".join(steps)


def to_sandbox_ready(api_url: str, username: str, password: str) -> str:
    return f"Airflow sandbox at {api_url} (user {username}, password {password}); Ctrl+C stops it"


def to_unknown_scenarios(unknown: list[str], known: list[str]) -> str:
    return f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}"


def to_approval(scenario: Scenario) -> str:
    if scenario.approval is None:
        return "-"
    people = len(scenario.approval.approvers)
    return f"{scenario.approval.behaviour} ({people} approver{'s' if people != 1 else ''})"


def to_run_not_available() -> str:
    return "only `incident-bot chaos run --dry-run` is available so far"


def to_dry_run(scenario: Scenario, *, java_reason: str | None) -> str:
    """What one scenario would do, step by step, on one line."""
    if "java" in scenario.requires and java_reason is not None:
        return f"{scenario.name}: skipped, {java_reason}"
    expected = scenario.expected
    steps = [f"inject {scenario.fault}", f"trigger {scenario.dag_id}"]
    if scenario.fault == "none":
        steps.append("expect the run to succeed and no incident to open")
        return to_dry_run_line(scenario.name, steps)
    steps.append(f"expect {expected.failure_class} and playbook {expected.playbook}")
    if scenario.approval is not None:
        steps.append(to_behaviour_step(scenario.approval.behaviour, scenario.approval.approvers))
    steps.append(f"expect outcome {expected.outcome}")
    return to_dry_run_line(scenario.name, steps)


def to_behaviour_step(behaviour: str, approvers: list[str]) -> str:
    who = " and ".join(approvers)
    verb_end = "s" if len(approvers) == 1 else ""
    steps = {
        "approve": f"lift the fault, {who} approve{verb_end}",
        "reject": f"{who} reject{verb_end}",
        "no-answer": "nobody answers until the escalation window closes",
        "approve-while-fault-present": f"{who} approve{verb_end} with the fault still present",
    }
    return steps[behaviour]
