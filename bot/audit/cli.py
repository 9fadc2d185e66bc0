"""`incident-bot audit verify|export`: prove the audit chain intact, or hand it over."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.audit import messages
from bot.audit.export import write_json_lines
from bot.audit.models import VerifyResult
from bot.audit.store import AuditLog
from bot.settings import Settings
from bot.state import open_redis

audit_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Check and export the audit log."
)


@audit_app.command("verify")
def handle_verify() -> None:
    """Walk the hash chain; exit 1 at the first broken link, naming its seq and why."""
    result = asyncio.run(_verify(Settings()))
    if not result.ok:
        typer.echo(messages.to_chain_broken(result), err=True)
        raise typer.Exit(1)
    typer.echo(messages.to_chain_intact(result.checked))


@audit_app.command("export")
def handle_export(
    output: Annotated[
        Path | None, typer.Option(help="File to write; stdout when left out.")
    ] = None,
) -> None:
    """Write every entry, in chain order, as JSON lines exactly as stored."""
    count = asyncio.run(_export(Settings(), output))
    if output is not None:
        typer.echo(messages.to_exported(count, output), err=True)


async def _verify(settings: Settings) -> VerifyResult:
    async with open_redis(settings) as redis:
        return await AuditLog(redis).verify()


async def _export(settings: Settings, output: Path | None) -> int:
    async with open_redis(settings) as redis:
        log = AuditLog(redis)
        label = messages.to_progress_label(output) if output else ""
        return await write_json_lines(
            log.iterate_json(), total=await log.count(), output=output, label=label
        )
