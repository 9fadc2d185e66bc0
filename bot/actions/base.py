"""The interface every action executor implements."""

from __future__ import annotations

from typing import Protocol

from bot.actions.models import ActionContext, ActionResult, Preview
from bot.runbooks.models import Action


class Executor(Protocol):
    """Carries out one family of action kinds (`airflow.*`, `http.call`, `manual`).

    `preview` changes nothing (Airflow's own dry-run clear is the one request it may send
    that is not a GET). `execute` and `rollback` raise ActionError when the outside system
    refuses, and ActionRefused when the step must not run as it stands.
    """

    kinds: frozenset[str]

    async def preview(self, action: Action, ctx: ActionContext) -> Preview: ...

    async def execute(self, action: Action, ctx: ActionContext) -> ActionResult: ...

    async def rollback(
        self, rollback_spec: Action, result: ActionResult, ctx: ActionContext
    ) -> ActionResult: ...
