"""`incident-bot runbooks lint [PATH]`: validate playbooks the way start-up does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.runbooks import messages
from bot.runbooks.loader import builtin_runbooks_dir, get_playbooks

runbooks_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Check the playbook catalogue."
)


@runbooks_app.command("lint")
def handle_lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders or files of playbooks; the built-in catalogue by default."),
    ] = None,
) -> None:
    """Validate every playbook; exit 1 naming each file and field at fault."""
    folders = paths or [builtin_runbooks_dir()]
    result = get_playbooks(*folders)
    if result.problems:
        for problem in result.problems:
            typer.echo(problem, err=True)
        typer.echo(messages.to_lint_failed(len(result.problems)), err=True)
        raise typer.Exit(1)
    typer.echo(messages.to_lint_passed(len(result.playbooks), folders))
