"""`incident-bot traces export`: every incident's trace as JSON lines, for skill distillation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer

from bot.audit.export import write_json_lines
from bot.incidents.commands import to_incident_id
from bot.settings import Settings
from bot.state import open_redis
from bot.traces import messages
from bot.traces.store import TraceRecorder

traces_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Export incident traces.")


@traces_app.command("export")
def handle_export(
    output: Annotated[
        Path | None, typer.Option(help="File to write; stdout when left out.")
    ] = None,
    incident: Annotated[
        str | None, typer.Option(help="Only this incident (INC-12 or 12); all when left out.")
    ] = None,
) -> None:
    """Write one JSON line per incident: {"incident_id", "steps": [...]}, oldest first."""
    incident_ids = None
    if incident is not None:
        incident_id = to_incident_id(incident)
        if incident_id is None:
            typer.echo(messages.to_not_an_incident(incident), err=True)
            raise typer.Exit(2)
        incident_ids = [incident_id]
    count = asyncio.run(_export(Settings(), output, incident_ids))
    if incident_ids and not count:
        typer.echo(messages.to_no_trace(incident_ids[0]), err=True)
        raise typer.Exit(1)
    if output is not None:
        typer.echo(messages.to_exported(count, output), err=True)


async def _export(settings: Settings, output: Path | None, incident_ids: list[str] | None) -> int:
    async with open_redis(settings) as redis:
        recorder = TraceRecorder(redis)
        wanted = incident_ids or await recorder.list_incident_ids()
        label = messages.to_progress_label(output) if output else ""
        return await write_json_lines(
            _to_lines(recorder, wanted), total=len(wanted), output=output, label=label
        )


async def _to_lines(recorder: TraceRecorder, incident_ids: list[str]) -> AsyncIterator[str]:
    for incident_id in incident_ids:
        trace = await recorder.get_trace(incident_id)
        if trace.steps:
            yield trace.model_dump_json()
