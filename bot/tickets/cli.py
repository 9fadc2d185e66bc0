"""`incident-bot outbox`: ticket operations Jira refused for good, and trying them again."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.settings import Settings
from bot.tickets import messages
from bot.tickets.models import DeadLetter

ResultT = TypeVar("ResultT")

outbox_app = typer.Typer(
    no_args_is_help=True, help="Ticket sync operations Jira refused for good: list, retry."
)


@outbox_app.command("list")
def list_dead_letters() -> None:
    """Show every incident whose ticket sync waits behind an operation Jira refused."""
    letters = _run(_get_dead_letters(Settings()))
    console = Console()
    if not letters:
        console.print(messages.to_no_dead_letters())
        return
    table = Table("Incident", "Issue", "Operation", "HTTP", "Error", "Since")
    for letter in letters:
        table.add_row(
            letter.incident_id,
            letter.issue_key or "-",
            letter.operation,
            str(letter.status or "-"),
            letter.error,
            letter.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
    console.print(table)


@outbox_app.command("retry")
def retry(
    incidents: Annotated[
        list[str] | None,
        typer.Argument(help="Incidents (INC-12, 12) to retry; none retries every dead letter."),
    ] = None,
) -> None:
    """Take incidents off the dead-letter list and queue their ticket sync again."""
    retried, missing = _run(_retry(Settings(), incidents or []))
    for incident_id in missing:
        typer.echo(messages.to_no_dead_letter(incident_id), err=True)
    if retried:
        typer.echo(messages.to_retried(retried))
    elif not missing:
        typer.echo(messages.to_no_dead_letters())
    if missing:
        raise typer.Exit(1)


async def _get_dead_letters(settings: Settings) -> list[DeadLetter]:
    from bot.state import open_redis
    from bot.tickets.store import TicketStore

    async with open_redis(settings) as redis:
        return await TicketStore(redis).list_dead_letters()


async def _retry(settings: Settings, references: list[str]) -> tuple[list[str], list[str]]:
    from saq.queue.redis import RedisQueue

    from bot.incidents.commands import to_incident_id
    from bot.runtime import QUEUE_NAME
    from bot.state import open_redis
    from bot.tickets.flows import retry_dead_letter
    from bot.tickets.jobs import enqueue_ticket_sync
    from bot.tickets.store import TicketStore

    async with open_redis(settings) as redis:
        store = TicketStore(redis)
        queue = RedisQueue(redis, name=QUEUE_NAME)

        async def request_sync(incident_id: str) -> None:
            await enqueue_ticket_sync(queue, incident_id)

        if references:
            wanted = [to_incident_id(reference) or reference for reference in references]
        else:
            wanted = [letter.incident_id for letter in await store.list_dead_letters()]
        retried: list[str] = []
        missing: list[str] = []
        try:
            for incident_id in wanted:
                letter = await retry_dead_letter(
                    incident_id, store=store, request_sync=request_sync
                )
                (retried if letter else missing).append(incident_id)
        finally:
            await queue.disconnect()
        return retried, missing


def _run(main: Coroutine[Any, Any, ResultT]) -> ResultT:
    return asyncio.run(main)
