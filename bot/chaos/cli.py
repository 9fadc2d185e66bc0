"""`incident-bot chaos ...`: list the drill scenarios and what each would do."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.chaos import messages
from bot.chaos.environment import get_java
from bot.chaos.models import Scenario
from bot.chaos.scenarios import BUILTIN_DIR, get_scenarios

chaos_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Fault-injection drills on a real sandbox."
)
ScenarioDirs = Annotated[
    list[Path] | None,
    typer.Option("--dir", help="Extra folder (or file) of scenarios; repeatable."),
]


def get_selected(dirs: list[Path] | None, names: list[str] | None = None) -> list[Scenario]:
    result = get_scenarios(BUILTIN_DIR, *(dirs or []))
    if result.problems:
        typer.echo(messages.to_load_failed(result.problems), err=True)
        raise typer.Exit(2)
    if not names:
        return result.scenarios
    known = {scenario.name: scenario for scenario in result.scenarios}
    unknown = [name for name in names if name not in known]
    if unknown:
        typer.echo(messages.to_unknown_scenarios(unknown, sorted(known)), err=True)
        raise typer.Exit(2)
    return [known[name] for name in names]


@chaos_app.command("scenarios")
def handle_scenarios(dirs: ScenarioDirs = None) -> None:
    """List the scenarios: fault, DAG, expected class, playbook, approval and outcome."""
    table = Table("name", "fault", "dag", "class", "playbook", "approval", "outcome", "requires")
    for scenario in get_selected(dirs):
        expected = scenario.expected
        table.add_row(
            scenario.name,
            scenario.fault,
            scenario.dag_id,
            expected.failure_class or "-",
            expected.playbook or "-",
            messages.to_approval(scenario),
            expected.outcome,
            ", ".join(scenario.requires) or "-",
        )
    Console().print(table)


@chaos_app.command("run")
def handle_run(
    names: Annotated[
        list[str] | None, typer.Argument(help="Scenario names; all of them by default.")
    ] = None,
    dirs: ScenarioDirs = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what each scenario would do; start nothing.")
    ] = False,
) -> None:
    """Run drills against the sandbox (only --dry-run so far)."""
    scenarios = get_selected(dirs, names)
    if not dry_run:
        typer.echo(messages.to_run_not_available(), err=True)
        raise typer.Exit(2)
    java = get_java()
    for scenario in scenarios:
        typer.echo(
            messages.to_dry_run(scenario, java_reason=None if java.is_usable else java.reason)
        )
