"""Writing JSON lines to stdout or a file, with a progress bar on long file exports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

# Below this many lines a progress bar only flickers.
PROGRESS_MIN_LINES = 200


async def write_json_lines(
    lines: AsyncIterator[str], *, total: int, output: Path | None, label: str
) -> int:
    """Write each line to `output`, or to stdout when it is None; return how many were written.

    The bar goes to stderr and only while writing to a file, so stdout stays pure JSON lines.
    """
    if output is None:
        return await _write_lines(lines, lambda text: typer.echo(text, nl=False))
    with output.open("w", encoding="utf-8") as file:
        if total < PROGRESS_MIN_LINES:
            return await _write_lines(lines, file.write)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(label, total=total)

            def write(line: str) -> None:
                file.write(line)
                progress.advance(task)

            return await _write_lines(lines, write)


async def _write_lines(lines: AsyncIterator[str], write: Callable[[str], object]) -> int:
    count = 0
    async for line in lines:
        write(line + "\n")
        count += 1
    return count
