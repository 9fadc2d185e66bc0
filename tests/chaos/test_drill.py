"""The parts of a drill that need no sandbox: what an approval allows, the bot's settings,
and the polling every wait is built on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.chaos.drill import poll, to_kinds
from bot.chaos.drills import DrillSettings
from bot.chaos.evidence import WriteApproval
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from bot.runbooks.models import SetVariable
from bot.settings import Settings
from tests.approvals.factories import NOW, build_request

CATALOGUE = load_catalogue(builtin_runbooks_dir())


def test_approving_a_memory_change_allows_the_variable_and_its_restore() -> None:
    action = SetVariable.model_validate(
        {"kind": "airflow.set_variable", "params": {"key": "k", "value": "2g"}}
    )
    request = build_request(
        playbook_id="out-of-memory-spark", step_id="raise-executor-memory", action=action
    )

    approval = WriteApproval(NOW, to_kinds(request, CATALOGUE))

    assert approval.events == {"post_variable", "patch_variable", "delete_variable"}


def test_approving_a_clear_allows_a_clear_only() -> None:
    request = build_request(playbook_id="permission-denied", step_id="clear-failed-task")

    approval = WriteApproval(NOW, to_kinds(request, CATALOGUE))

    assert approval.events == {"post_clear_task_instances"}


def test_a_manual_step_allows_no_write() -> None:
    approval = WriteApproval(NOW, frozenset({"manual"}))

    assert approval.events == frozenset()


def test_drill_settings_ignore_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OBSERVE_ONLY", "true")
    monkeypatch.setenv("WORKERS", "external")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RUNBOOKS_DIRS=/nowhere\n", encoding="utf-8")

    settings = DrillSettings(port=9999)

    # The bot's own settings do read them: the names are the right ones.
    assert Settings().observe_only is True
    assert (settings.observe_only, settings.workers) == (False, "in-process")
    assert settings.runbooks_dirs == ""
    assert settings.port == 9999


async def test_poll_returns_the_first_answer_that_is_not_none() -> None:
    answers = iter([None, None, "found"])

    async def check() -> str | None:
        return next(answers)

    assert await poll(check) == "found"


async def test_poll_gives_up_after_its_time() -> None:
    async def check() -> str | None:
        return None

    with pytest.raises(TimeoutError):
        await poll(check, within=0.3)


async def test_poll_without_a_limit_is_bounded_by_the_callers_timeout() -> None:
    async def check() -> str | None:
        return None

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await poll(check)
