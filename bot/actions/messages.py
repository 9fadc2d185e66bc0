"""Words the actions show people: previews, results, verification and refusals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def build_unfilled_refusal(step_id: str, names: Sequence[str]) -> str:
    listed = ", ".join(f"`{name}`" for name in names)
    return f"Step `{step_id}` was not run: it still needs a value for {listed}."


def build_invalid_params_refusal(step_id: str, problem: str) -> str:
    first_line = problem.splitlines()[0] if problem else "invalid parameters"
    return f"Step `{step_id}` was not run: its parameters are not valid ({first_line})."


def build_host_refusal(host: str) -> str:
    return f"`{host}` is not on the list of hosts remediation steps may call."


def build_unknown_secret_refusal(name: str) -> str:
    return f"The secret `{name}` named in the step's headers is not configured."


def build_unknown_kind_refusal(kind: str) -> str:
    return f"No executor is configured for `{kind}` actions."


def build_no_airflow_refusal() -> str:
    return "Airflow actions need AIRFLOW_URL to be set."


def build_airflow_failure(action: str, detail: str) -> str:
    return f"Airflow refused to {action}: {detail}."


def to_task_list(task_instances: Sequence[dict[str, Any]]) -> str:
    if not task_instances:
        return "no task instances"
    names = [f"{item.get('task_id')} ({item.get('dag_run_id')})" for item in task_instances]
    return ", ".join(names)


def build_clear_preview(dag_id: str, task_instances: Sequence[dict[str, Any]]) -> str:
    count = len(task_instances)
    return f"Clear {count} task instance(s) of `{dag_id}`: {to_task_list(task_instances)}."


def build_clear_result(dag_id: str, task_instances: Sequence[dict[str, Any]]) -> str:
    count = len(task_instances)
    return f"Cleared {count} task instance(s) of `{dag_id}`: {to_task_list(task_instances)}."


def build_trigger_preview(dag_id: str, run_id: str, *, is_paused: bool) -> str:
    paused = " The DAG is paused: the run waits until it is unpaused." if is_paused else ""
    return f"Trigger a new run `{run_id}` of `{dag_id}`.{paused}"


def build_trigger_result(dag_id: str, run_id: str) -> str:
    return f"Triggered run `{run_id}` of `{dag_id}`."


def build_state_preview(task: str, current: str | None, new: str) -> str:
    return f"Mark `{task}` {new} (it is {current or 'without a state'} now)."


def build_state_result(task: str, previous: str | None, new: str, run_state: str | None) -> str:
    run = f" and its DAG run {run_state}" if run_state else ""
    return f"Marked `{task}` {new}{run} (it was {previous or 'without a state'})."


def build_pause_preview(dag_id: str, *, pause: bool, is_paused: bool) -> str:
    verb = "Pause" if pause else "Unpause"
    now = "paused" if is_paused else "not paused"
    return f"{verb} `{dag_id}` (it is {now} now)."


def build_pause_result(dag_id: str, *, pause: bool) -> str:
    return f"{'Paused' if pause else 'Unpaused'} `{dag_id}`."


def build_variable_preview(key: str, previous: str | None, value: str) -> str:
    if previous is None:
        return f"Create the Variable `{key}` with `{value}` (it does not exist yet)."
    return f"Set the Variable `{key}` from `{previous}` to `{value}`."


def build_variable_result(key: str, value: str) -> str:
    return f"Set the Variable `{key}` to `{value}`."


def build_variable_restored(key: str, previous: str | None) -> str:
    if previous is None:
        return f"Deleted the Variable `{key}`, which did not exist before."
    return f"Restored the Variable `{key}` to `{previous}`."


def build_http_preview(method: str, url: str, header_names: Sequence[str]) -> str:
    headers = f" with headers {', '.join(header_names)}" if header_names else ""
    return f"Call {method} {url}{headers}."


def build_http_result(method: str, url: str, status: int) -> str:
    return f"Called {method} {url}: HTTP {status}."


def build_http_failure(method: str, url: str, status: int | str) -> str:
    return f"{method} {url} answered {status}, not one of the expected statuses."


def build_manual_preview(instructions: str) -> str:
    return f"A person does this and marks it done: {instructions}"


def build_manual_waiting(instructions: str) -> str:
    return f"Waiting for a person: {instructions}"


def build_manual_rollback_waiting(instructions: str) -> str:
    return f"Waiting for a person to undo the step: {instructions}"


def build_verification_passed(subject: str, observed: str) -> str:
    return f"Verified: {subject} is {observed}."


def build_verification_failed(subject: str, observed: str) -> str:
    return f"Verification failed: {subject} is {observed}."


def build_verification_timed_out(subject: str, observed: str | None, seconds: float) -> str:
    last = f" (last seen: {observed})" if observed else ""
    return f"Verification timed out after {seconds:.0f} s waiting for {subject}{last}."


def build_verification_waiting(instructions: str) -> str:
    return f"Waiting for a person to confirm: {instructions}"


def build_verification_confirmed(actor: str) -> str:
    return f"Confirmed by {actor or 'a person'}."


def build_verification_rejected(actor: str) -> str:
    return f"{actor or 'A person'} reported that the step did not work."


def build_already_running(step_id: str) -> str:
    return f"Step `{step_id}` is already running; it was not started again."


def build_already_done(step_id: str, status: str) -> str:
    return f"Step `{step_id}` already ran ({status}); it was not run again."


def build_no_rollback(step_id: str) -> str:
    return f"Step `{step_id}` declares no rollback; escalating."


def build_rollback_failed(detail: str) -> str:
    return f"The rollback failed: {detail}. Escalating."


def build_action_failed(detail: str) -> str:
    return f"The action failed: {detail}. Escalating."


def build_bad_playbook_values(problem: str) -> str:
    return (
        f"PLAYBOOK_VALUES must be a JSON object of names and values ({problem}), "
        'e.g. {"credential_rotation_url": "https://secrets.internal/rotate"}'
    )


def build_undoing(step_id: str) -> str:
    return f"A later step of this fix failed, so step `{step_id}` is taken back."
