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


def to_no_java(minimum: int) -> str:
    return f"no `java` on PATH; Spark needs Java {minimum} or later"


def to_java_failed(reason: str) -> str:
    return f"`java -version` failed: {reason}"


def to_java_too_old(major: int, minimum: int) -> str:
    return f"Java {major} found; Spark 4 needs Java {minimum} or later"


def to_java_found(major: int) -> str:
    return f"Java {major}"


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


def to_redis_not_ready(port: int, seconds: float, log: Path) -> str:
    return f"the drills' Redis on port {port} did not answer within {seconds:.0f} s; see {log}"


def to_api_refused(method: str, path: str, status: int, body: str) -> str:
    return f"the sandbox's Airflow answered {method} {path} with {status}: {body[:300]}"


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


def to_drill_started(name: str, index: int, total: int) -> str:
    return f"[{index}/{total}] {name}"


def to_drill_step(name: str, text: str) -> str:
    return f"{name}: {text}"


def to_drill_finished(name: str, verdict: str, seconds: float) -> str:
    return f"{name}: {verdict} in {seconds:.0f} s"


def to_drills_label(total: int) -> str:
    return f"Drills ({total} scenario{'s' if total != 1 else ''})"


def to_drills_title(passed: int, failed: int, skipped: int) -> str:
    return f"Chaos drills: {passed} passed, {failed} failed, {skipped} skipped"


def to_audit_chain(intact: bool) -> str:
    return f"audit chain {to_chain_state(intact)}"


def to_drills_verdict(passed: bool) -> str:
    return "PASSED" if passed else "FAILED"


def to_drills_stopped() -> str:
    return "drills stopped; the sandbox was shut down"


def to_report_written(path: Path) -> str:
    return f"report written to {path}"


def to_charts_unavailable() -> str:
    return (
        "`--report` draws charts with matplotlib, which is not installed; "
        "install it with: pip install 'incident-bot[chaos]'"
    )


def to_expected_actual(expected: str, actual: str | None) -> str:
    if actual == expected:
        return expected
    return f"{actual or 'none'} (expected {expected})"


def to_skipped_problem(reason: str | None) -> str:
    return f"skipped: {reason or 'no reason given'}"


def to_seconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def to_detection(*, ran: bool, fault: bool, detected: bool, seconds: float | None) -> str:
    if not ran:
        return "-"
    if not detected:
        return "missed" if fault else "none (right)"
    return to_seconds(seconds) if fault else f"false alarm, {to_seconds(seconds)}"


def to_check(right: bool | None, actual: str | None) -> str:
    if right is None:
        return "-"
    return "right" if right else f"wrong: {actual or 'none'}"


def to_expectation(expected: bool, happened: bool, seconds: float | None = None) -> str:
    if not expected and not happened:
        return "-"
    if expected and not happened:
        return "missing"
    word = "yes" if expected else "unexpected"
    return word if seconds is None else f"{word}, {to_seconds(seconds)}"


def to_ratio(part: int, whole: int) -> str:
    return f"{part}/{whole}"


def to_chain_state(intact: bool) -> str:
    return "intact" if intact else "BROKEN"


def to_no_problems() -> str:
    return "None: every scenario that ran did what it was expected to."


def to_run_expected(run: int, expected: int) -> str:
    return f"{run} (expected {expected})"


def to_spark_missing(venv: Path) -> str:
    return f"Java is usable but {venv} holds no pyspark with bin/spark-class; reinstall it"


# The drill runner: progress lines and the problems a score lists.


def to_starting_sandbox(root: Path) -> str:
    return f"starting the sandbox in {root} (Airflow, fault services, stand-ins, Redis)"


def to_starting_bot() -> str:
    return "starting incident-bot against the sandbox"


def to_stopping_sandbox() -> str:
    return "stopping the bot and the sandbox"


def to_bot_not_started(seconds: float) -> str:
    return f"incident-bot did not start serving within {seconds:.0f} s; see its log lines above"


def to_click_refused(status: int, body: str) -> str:
    return f"the bot refused a scripted approver's click: HTTP {status} {body[:200]}"


def to_scenario_timeout(seconds: float) -> str:
    return f"the scenario did not settle within {seconds:.0f} s"


def to_fault_set(fault: str) -> str:
    return "no fault (control run)" if fault == "none" else f"fault on: {fault}"


def to_fault_lifted(fault: str) -> str:
    return f"fault lifted before approving: {fault}"


def to_triggered(dag_id: str, run_id: str) -> str:
    return f"triggered {dag_id} ({run_id})"


def to_incident_opened(incident_id: str, seconds: float) -> str:
    return f"{incident_id} opened after {seconds:.1f} s"


def to_thread_posted(seconds: float) -> str:
    return f"thread posted after {seconds:.1f} s"


def to_settled(state: str, seconds: float, reason: str | None = None) -> str:
    because = f": {reason}" if reason else ""
    return f"incident {state} after {seconds:.1f} s{because}"


def to_restarting_redis() -> str:
    return "restarting Redis in the middle of the incident"


def to_not_answering(title: str) -> str:
    return f"leaving unanswered: {title}"


def to_clicked(approver: str, action: str, title: str) -> str:
    return f"{approver} clicked {action}: {title}"


def to_control_opened_incident(incident_id: str | None) -> str:
    return f"a run without a fault opened incident {incident_id}"


def to_not_detected() -> str:
    return "the fault opened no incident"


def to_wrong(what: str, actual: object, expected: object) -> str:
    return f"{what} {actual or 'none'}, expected {expected}"


def to_writes_before_approval(count: int) -> str:
    return f"{count} write(s) by the bot before their step was approved"


def to_fault_not_caught() -> str:
    return "no verification failed although the fault was still there when the fix ran"


def to_rollback_mismatch(expected: bool) -> str:
    return "the rollback did not run" if expected else "a rollback ran where none was expected"


def to_escalation_mismatch(expected: bool) -> str:
    return "the incident was not escalated" if expected else "the incident escalated unexpectedly"


def to_escalated_late(seconds: float, window: float) -> str:
    return f"escalated {seconds:.0f} s after the request, for a {window:.0f} s window"


def to_alerts_lost(lost: int, sent: int) -> str:
    return f"{lost} of {sent} alert(s) never reached an incident"


def to_duplicate_actions(count: int) -> str:
    return f"{count} step(s) ran more than once"


def to_no_thread(incident_id: str | None) -> str:
    return f"{incident_id} has no chat thread"


def to_ticket_count(incident_id: str | None, count: int) -> str:
    if count == 0:
        return f"{incident_id} has no Jira ticket"
    return f"{incident_id} has {count} Jira tickets, not one"


def to_resolved_unverified(run_state: str | None) -> str:
    return (
        "the incident was resolved without a passing verification and a successful DAG run "
        f"(the run is {run_state or 'unknown'})"
    )


def to_fault_not_felt(fault: str) -> str:
    return f"the bot never met the {fault} fault the scenario declares; the drill proves nothing"


def to_drill_error(exc: BaseException) -> str:
    return f"the drill could not go on: {type(exc).__name__}: {exc}"


def to_too_few_approvers(needed: int, given: int) -> str:
    return f"the policy needs {needed} approvers and the scenario names {given}; add approvers"


def to_acted_early(title: str, votes: int, needed: int) -> str:
    return f"the bot acted on {title} after {votes} of the {needed} approvals it needs"


def to_vote_not_counted(votes: int, seconds: float) -> str:
    return f"the bot did not count approval {votes} within {seconds:.0f} s"


def to_not_closed(incident_id: str) -> str:
    return f"incident {incident_id} was still open after the drill's resolve command"


def to_nothing_ran() -> str:
    return "every scenario was skipped: nothing was drilled"


def to_diagnosis(class_right: bool | None, playbook_right: bool | None) -> str:
    if class_right is None and playbook_right is None:
        return "-"
    wrong = [
        name for name, right in (("class", class_right), ("playbook", playbook_right)) if not right
    ]
    return f"wrong {' and '.join(wrong)}" if wrong else "right"


def to_drill_log(path: Path) -> str:
    return f"log lines of the bot and the sandbox: {path}"
