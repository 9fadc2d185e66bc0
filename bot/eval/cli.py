"""`incident-bot eval FILE.jsonl [--format json]`: score the rule engine on a labelled set."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from bot.diagnosis.rules import DEFAULT_THRESHOLD, RuleEngine
from bot.errors import BadRequest, ConfigError
from bot.eval import messages
from bot.eval.models import CaseResult, EvalCase, EvalReport
from bot.eval.service import InvalidDataset, create_report, get_cases, get_results, to_json
from bot.runbooks.loader import get_runbook_dirs, load_catalogue
from bot.settings import Settings

# Below this many cases a progress bar only flickers.
PROGRESS_MIN_CASES = 50

# Added to the main app without a name, so the command reads `incident-bot eval FILE`.
eval_app = typer.Typer(add_completion=False)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@eval_app.command("eval")
def handle_eval(
    file: Annotated[Path, typer.Argument(help="JSON lines with id, text and label.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for tools.")
    ] = OutputFormat.TABLE,
    runbooks: Annotated[
        list[Path] | None, typer.Option(help="Extra folder of playbooks (repeatable).")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Confidence below which the engine answers unknown.")
    ] = DEFAULT_THRESHOLD,
) -> None:
    """Score the diagnoser on a JSON-lines data set of labelled logs."""
    try:
        cases = get_cases(file)
        catalogue = load_catalogue(*get_runbook_dirs(Settings()), *(runbooks or []))
    except InvalidDataset as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        typer.echo(messages.to_invalid_dataset(len(exc.problems)), err=True)
        raise typer.Exit(2) from exc
    except (BadRequest, ConfigError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc

    engine = RuleEngine(catalogue, threshold=threshold)
    if output_format is OutputFormat.JSON:
        typer.echo(to_json(create_report(get_results(engine, cases))))
        return
    results = get_results_with_progress(engine, cases, file, Console(stderr=True))
    print_report(create_report(results), Console())


def get_results_with_progress(
    engine: RuleEngine, cases: list[EvalCase], file: Path, console: Console
) -> list[CaseResult]:
    if len(cases) < PROGRESS_MIN_CASES:
        return get_results(engine, cases)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(messages.to_progress_label(file), total=len(cases))
        return get_results(engine, cases, on_result=lambda _: progress.advance(task))


def print_report(report: EvalReport, console: Console) -> None:
    table = Table(title=messages.to_table_title(report.cases))
    for heading in ("class", "precision", "recall", "support"):
        table.add_column(heading, justify="left" if heading == "class" else "right")
    for name, score in report.per_class.items():
        table.add_row(name, f"{score.precision:.2f}", f"{score.recall:.2f}", str(score.support))
    console.print(table)

    summary = messages.to_summary_lines(
        accuracy=report.accuracy,
        misdiagnosis=report.misdiagnosis_rate,
        abstain=report.abstain_rate,
        false_positive=report.false_positive_rate,
    )
    latency = report.latency_ms
    lines = [*summary, messages.to_latency_line(latency.p50, latency.p95, latency.p99)]
    lines += [
        messages.to_mistake_line(mistake.id, mistake.label, mistake.predicted, mistake.confidence)
        for mistake in report.mistakes
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
