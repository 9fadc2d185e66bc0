"""Proving that a step worked: poll Airflow or an endpoint until the expected state shows,
a final state shows that is not the expected one, or the step's timeout passes.

Polls are spaced by `poll_interval_seconds` and bounded by the check's `timeout_seconds`.
A manual check does not wait: it reports what the person answered so far.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

from bot.actions import messages
from bot.actions.airflow import to_path
from bot.actions.http import check_host
from bot.actions.manual import ManualExecutor, ManualState
from bot.actions.models import (
    ActionContext,
    ActionError,
    ActionResult,
    VerificationResult,
    VerificationStatus,
)
from bot.contracts import messages as contract_messages
from bot.contracts.models import DataContract
from bot.contracts.service import ContractInputError, Contracts, check_contract, is_remote
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.diagnosis.collectors.base import CollectorError
from bot.diagnosis.collectors.http import open_call
from bot.runbooks.models import (
    DagPausedCheck,
    DagRunStateCheck,
    DataContractCheck,
    HttpStatusCheck,
    ManualCheck,
    TaskInstanceStateCheck,
    Verification,
)

# Airflow states after which nothing changes without someone acting.
FINAL_TASK_STATES = frozenset({"success", "failed", "upstream_failed", "skipped", "removed"})
FINAL_RUN_STATES = frozenset({"success", "failed"})
SYSTEM = "action-http"


@dataclass(frozen=True)
class Observation:
    """One poll's answer: what was seen, whether it is what the check expects, and whether
    it can still change."""

    observed: str
    expected: bool
    final: bool


class Verifier:
    """Runs the verification kinds the playbooks declare."""

    def __init__(
        self,
        *,
        airflow: AirflowApi | None,
        http: httpx.AsyncClient,
        allowed_hosts: Iterable[str],
        manual: ManualExecutor,
        poll_interval_seconds: float,
        contracts: Contracts | None = None,
    ) -> None:
        self._airflow = airflow
        self._contracts = contracts or Contracts()
        self._http = http
        self._allowed_hosts = frozenset(allowed_hosts)
        self._manual = manual
        self._poll_interval_seconds = poll_interval_seconds

    async def verify(
        self, check: Verification, result: ActionResult | None, ctx: ActionContext
    ) -> VerificationResult:
        """Raises ActionError when the system to poll is not configured."""
        if isinstance(check, ManualCheck):
            return await self._verify_manual(check, ctx)
        if isinstance(check, DataContractCheck):
            return await self._verify_contract(check, ctx)
        subject, observe = self._to_observer(check, result)
        return await self._poll(check, subject, observe)

    def _to_observer(
        self, check: Verification, result: ActionResult | None
    ) -> tuple[str, Callable[[], Awaitable[Observation]]]:
        # A check without a run id follows the run the action itself started.
        run_id = (result.values.get("dag_run_id") if result else None) or None
        match check:
            case TaskInstanceStateCheck(params=params):
                task = f"task {params.dag_id}.{params.task_id}"
                dag_run_id = params.dag_run_id or run_id
                return task, lambda: self._observe_task(check, dag_run_id)
            case DagRunStateCheck(params=params):
                dag_run_id = params.dag_run_id or run_id
                return f"the run {dag_run_id} of {params.dag_id}", lambda: self._observe_run(
                    check, dag_run_id
                )
            case DagPausedCheck(params=params):
                return f"the pause state of {params.dag_id}", lambda: self._observe_paused(check)
            case HttpStatusCheck(params=params):
                check_host(params.url, self._allowed_hosts)
                return params.url, lambda: self._observe_status(check)
        raise ActionError(messages.build_unknown_kind_refusal(check.kind))

    async def _poll(
        self, check: Verification, subject: str, observe: Callable[[], Awaitable[Observation]]
    ) -> VerificationResult:
        deadline = time.monotonic() + check.timeout_seconds
        last: str | None = None
        while True:
            try:
                observation = await observe()
            except CollectorError as exc:
                observation = Observation(str(exc), expected=False, final=False)
            last = observation.observed
            if observation.expected or observation.final:
                return _to_result(check, subject, observation)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                summary = messages.build_verification_timed_out(
                    subject, last, check.timeout_seconds
                )
                return VerificationResult(
                    kind=check.kind,
                    status=VerificationStatus.FAILED,
                    summary=summary,
                    observed=last,
                )
            await asyncio.sleep(min(self._poll_interval_seconds, remaining))

    async def _observe_task(
        self, check: TaskInstanceStateCheck, dag_run_id: str | None
    ) -> Observation:
        params = check.params
        if dag_run_id is None:
            raise ActionError(messages.build_unfilled_refusal(check.kind, ["dag_run_id"]))
        segments = (params.dag_id, "dagRuns", dag_run_id, "taskInstances", params.task_id)
        path = "dags/" + to_path(*segments)
        state = str((await self._get_airflow(path)).get("state"))
        return Observation(
            state, expected=state in params.expected, final=state in FINAL_TASK_STATES
        )

    async def _observe_run(self, check: DagRunStateCheck, dag_run_id: str | None) -> Observation:
        params = check.params
        if dag_run_id is None:
            raise ActionError(messages.build_unfilled_refusal(check.kind, ["dag_run_id"]))
        path = f"dags/{to_path(params.dag_id)}/dagRuns/{to_path(dag_run_id)}"
        state = str((await self._get_airflow(path)).get("state"))
        return Observation(
            state, expected=state in params.expected, final=state in FINAL_RUN_STATES
        )

    async def _observe_paused(self, check: DagPausedCheck) -> Observation:
        dag = await self._get_airflow(f"dags/{to_path(check.params.dag_id)}")
        is_paused = bool(dag.get("is_paused"))
        observed = "paused" if is_paused else "not paused"
        # A pause flag does not settle by itself: keep polling until the timeout.
        return Observation(observed, expected=is_paused == check.params.expected, final=False)

    async def _observe_status(self, check: HttpStatusCheck) -> Observation:
        async with open_call(self._http, "GET", check.params.url, system=SYSTEM) as response:
            status = response.status_code
        expected = status in check.params.expected_status
        return Observation(f"HTTP {status}", expected=expected, final=False)

    async def _verify_contract(
        self, check: DataContractCheck, ctx: ActionContext
    ) -> VerificationResult:
        """Check the DAG's input against its data contract; without one, ask a person."""
        contract = self._contracts.get_for_dag(check.params.dag_id)
        if contract is None:
            return await self._verify_manual(check, ctx)
        if is_remote(contract):
            check_host(contract.input, self._allowed_hosts)
        subject = contract_messages.to_subject(contract)
        return await self._poll(check, subject, lambda: self._observe_contract(contract))

    async def _observe_contract(self, contract: DataContract) -> Observation:
        try:
            report = await check_contract(contract, http=self._http)
        except ContractInputError as exc:
            return Observation(str(exc), expected=False, final=False)
        # The producer may still be re-delivering: a broken contract is polled again.
        observed = contract_messages.to_report_summary(contract, report)
        return Observation(observed, expected=report.is_met, final=False)

    async def _verify_manual(
        self, check: ManualCheck | DataContractCheck, ctx: ActionContext
    ) -> VerificationResult:
        state = await self._manual.get_state(ctx)
        if state == ManualState.DONE:
            status, summary = VerificationStatus.PASSED, messages.build_verification_confirmed("")
        elif state == ManualState.FAILED:
            status, summary = VerificationStatus.FAILED, messages.build_verification_rejected("")
        else:
            status = VerificationStatus.WAITING
            summary = messages.build_verification_waiting(check.params.instructions)
        return VerificationResult(kind=check.kind, status=status, summary=summary)

    async def _get_airflow(self, path: str) -> dict[str, object]:
        if self._airflow is None:
            raise ActionError(messages.build_no_airflow_refusal())
        answer = await self._airflow.get_json(path)
        return answer if isinstance(answer, dict) else {}


def _to_result(check: Verification, subject: str, observation: Observation) -> VerificationResult:
    if observation.expected:
        status = VerificationStatus.PASSED
        summary = messages.build_verification_passed(subject, observation.observed)
    else:
        status = VerificationStatus.FAILED
        summary = messages.build_verification_failed(subject, observation.observed)
    return VerificationResult(
        kind=check.kind, status=status, summary=summary, observed=observation.observed
    )
