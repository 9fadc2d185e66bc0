"""`incident-bot chaos ...`: list the drill scenarios, run them and score them.

incident-bot chaos run bad-schema-approve --format json --report out/
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.chaos import messages
from bot.chaos.display import build_table, open_progress
from bot.chaos.environment import SandboxInstallError, get_java
from bot.chaos.models import DrillReport, Scenario
from bot.chaos.report import check_charts, to_json, write_report
from bot.chaos.scenarios import BUILTIN_DIR, get_scenarios
from bot.errors import ConfigError

chaos_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Fault-injection drills on a real sandbox."
)
T = TypeVar("T")
ScenarioDirs = Annotated[
    list[Path] | None,
    typer.Option("--dir", help="Extra folder (or file) of scenarios; repeatable."),
]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


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
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for tools.")
    ] = OutputFormat.TABLE,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Also write report.md with PNG charts into this folder."),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the sandbox, its cached venv and logs.", show_default="var/chaos"
        ),
    ] = None,
) -> None:
    """Run drills against the sandbox and score them; exit 1 when any scenario fails."""
    scenarios = get_selected(dirs, names)
    if dry_run:
        print_dry_run(scenarios)
        return
    if report_dir is not None:
        exit_on_config_error(check_charts)

    report = get_report(scenarios, root=root, live=output_format is OutputFormat.TABLE)
    if output_format is OutputFormat.JSON:
        typer.echo(to_json(report))
    else:
        Console().print(build_table(report))
    if report_dir is not None:
        path = write_report(report, report_dir)
        typer.echo(messages.to_report_written(path), err=True)
    if report.nothing_ran:
        typer.echo(messages.to_nothing_ran(), err=True)
    if not report.passed:
        raise typer.Exit(1)


def print_dry_run(scenarios: list[Scenario]) -> None:
    java = get_java()
    for scenario in scenarios:
        typer.echo(
            messages.to_dry_run(scenario, java_reason=None if java.is_usable else java.reason)
        )


def get_report(scenarios: list[Scenario], *, root: Path | None, live: bool) -> DrillReport:
    """Run the drills with progress on stderr; stdout stays for the table or the JSON."""
    # Imported here so the scenario commands work without the runner's dependencies.
    from bot.chaos.drills import run_drills
    from bot.chaos.harness import DrillOptions

    options = DrillOptions() if root is None else DrillOptions(root=root)
    console = Console(stderr=True)
    log_file = open_log(options.root)
    typer.echo(messages.to_drill_log(Path(log_file.name)), err=True)
    try:
        # A stray print in the drills must not corrupt the table or the JSON on stdout.
        with (
            contextlib.redirect_stdout(sys.stderr),
            open_progress(console, live=live and console.is_terminal) as progress,
        ):
            return exit_on_config_error(
                lambda: asyncio.run(run_drills(scenarios, options, progress=progress))
            )
    except KeyboardInterrupt as exc:
        # asyncio.run cancelled the runner first, so its `finally` stopped the sandbox.
        typer.echo(messages.to_drills_stopped(), err=True)
        raise typer.Exit(130) from exc
    finally:
        log_file.close()


def open_log(root: Path) -> TextIO:
    """Send the bot's and the sandbox's log lines (JSON) to a file: the terminal shows progress."""
    from bot.logs import configure_logging
    from bot.settings import Settings

    root.mkdir(parents=True, exist_ok=True)
    log_file = (root / "drills.log").open("w", encoding="utf-8")
    configure_logging(Settings(_env_file=None, log_format="json"), stream=log_file)
    return log_file


# Exit codes of `chaos run`: 0 every scenario passed, 1 some failed, 2 a usage or set-up
# error, 3 the sandbox could not be installed (no package registry, say): nothing ran.
EXIT_NOT_INSTALLED = 3


def exit_on_config_error(function: Callable[[], T]) -> T:
    try:
        return function()
    except SandboxInstallError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_NOT_INSTALLED) from exc
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
