"""Remediation actions: typed executors, verification, rollback and idempotent runs."""

from bot.actions.airflow import AirflowExecutor
from bot.actions.base import Executor
from bot.actions.http import HttpExecutor
from bot.actions.manual import ManualExecutor
from bot.actions.models import (
    ActionContext,
    ActionError,
    ActionRefused,
    ActionResult,
    ActionStatus,
    Preview,
    RunContext,
    RunOutcome,
    RunStatus,
    VerificationResult,
    VerificationStatus,
)
from bot.actions.service import ActionRunner, build_action_runner, to_action_key
from bot.actions.verification import Verifier

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionRefused",
    "ActionResult",
    "ActionRunner",
    "ActionStatus",
    "AirflowExecutor",
    "Executor",
    "HttpExecutor",
    "ManualExecutor",
    "Preview",
    "RunContext",
    "RunOutcome",
    "RunStatus",
    "VerificationResult",
    "VerificationStatus",
    "Verifier",
    "build_action_runner",
    "to_action_key",
]
