"""The terminal side of `incident-bot chaos run`: live progress, then the results table.

    with DrillDisplay(Console(stderr=True)) as display:
        report = asyncio.run(run_drills(scenarios, options, progress=display))
    Console().print(build_table(report))

`DrillLines` implements the same progress protocol with one plain line per event, for
logs, CI and `--format json`, where a live display would only scramble the output.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Self

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bot.chaos import messages
from bot.chaos.charts import to_recovery
from bot.chaos.models import DrillReport, Scenario, ScenarioScore, Totals
from bot.chaos.progress import DrillProgress

VERDICT_STYLES = {"passed": "green", "failed": "bold red", "skipped": "yellow"}
COLUMNS = (
    "scenario",
    "fault",
    "approval",
    "to thread",
    "class",
    "playbook",
    "writes before approval",
    "outcome",
    "rollback",
    "escalation",
    "alerts lost",
    "duplicate actions",
    "verdict",
)
# A terminal is narrower than a Markdown page: the same facts, fewer and shorter columns.
TABLE_COLUMNS = (
    "scenario",
    "to thread",
    "diagnosis",
    "writes before approval",
    "outcome",
    "to recover or escalate",
    "alerts lost",
    "duplicate actions",
    "verdict",
)
RIGHT_JUSTIFIED = ("writes before approval", "alerts lost", "duplicate actions")


class DrillDisplay:
    """A live view: a bar over the scenarios, the running one's latest step, finished rows."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.bar.add_task(messages.to_drills_label(0), total=None)
        self.current = ""
        self.step = ""
        self.scores: list[ScenarioScore] = []
        # Transient: the final results table replaces the live rows once the drills end.
        self.live = Live(
            get_renderable=self.build_view, console=console, transient=True, refresh_per_second=4
        )

    def __enter__(self) -> Self:
        self.live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.live.stop()

    def on_sandbox(self, text: str) -> None:
        self.step = text

    def on_started(self, scenario: Scenario, index: int, total: int) -> None:
        self.current = messages.to_drill_started(scenario.name, index, total)
        self.step = ""
        self.bar.update(self.task, total=total, description=messages.to_drills_label(total))

    def on_step(self, scenario: Scenario, text: str) -> None:
        self.step = messages.to_drill_step(scenario.name, text)

    def on_finished(self, score: ScenarioScore) -> None:
        self.scores.append(score)
        self.current = ""
        self.step = ""
        self.bar.advance(self.task)

    def build_view(self) -> RenderableType:
        parts: list[RenderableType] = []
        if self.scores:
            parts.append(build_rows(self.scores))
        parts.append(self.bar)
        if self.current:
            parts.append(Text(self.current, style="bold"))
        if self.step:
            parts.append(Text(self.step, style="dim"))
        return Group(*parts)


class DrillLines:
    """One plain line per progress event, for terminals that cannot redraw."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_sandbox(self, text: str) -> None:
        self.print(text)

    def on_started(self, scenario: Scenario, index: int, total: int) -> None:
        self.print(messages.to_drill_started(scenario.name, index, total))

    def on_step(self, scenario: Scenario, text: str) -> None:
        self.print(messages.to_drill_step(scenario.name, text))

    def on_finished(self, score: ScenarioScore) -> None:
        self.print(messages.to_drill_finished(score.name, score.verdict, score.seconds))

    def print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


def open_progress(console: Console, *, live: bool) -> AbstractContextManager[DrillProgress]:
    """A live display on a terminal that can redraw, plain lines anywhere else."""
    return DrillDisplay(console) if live else nullcontext(DrillLines(console))


def build_table(report: DrillReport) -> Table:
    """The results: one row per scenario, then the verdict and the totals."""
    totals = report.totals
    table = build_rows(report.scenarios)
    table.title = messages.to_drills_title(totals.passed, totals.failed, totals.skipped)
    verdict = Text(messages.to_drills_verdict(report.passed))
    verdict.stylize("green" if report.passed else "bold red")
    chain = messages.to_audit_chain(totals.audit_chain_intact)
    summary = [verdict + f", {chain}, {messages.to_seconds(totals.seconds)}"]
    summary += [
        Text(" · ".join(f"{label} {value}" for label, value in line))
        for line in to_summary_lines(totals)
    ]
    table.caption = Text("\n").join(summary)
    table.caption_justify = "left"
    return table


def build_rows(scores: list[ScenarioScore]) -> Table:
    table = Table()
    for heading in TABLE_COLUMNS:
        table.add_column(
            heading,
            justify="right" if heading in RIGHT_JUSTIFIED else "left",
            # Names stay whole: a clipped name cannot be pasted back into `chaos run NAME`.
            no_wrap=heading == "scenario",
            overflow="fold",
        )
    for score in scores:
        row = [Text(cell) for cell in to_row(score)]
        row[-1].stylize(VERDICT_STYLES[score.verdict])
        table.add_row(*row)
    return table


def to_row(score: ScenarioScore) -> list[str]:
    """The words of one score's row in the terminal."""
    cells = dict(zip(COLUMNS, to_cells(score), strict=True))
    ran = score.verdict != "skipped"
    return [
        score.name,
        cells["to thread"],
        messages.to_diagnosis(score.class_right, score.playbook_right),
        cells["writes before approval"],
        cells["outcome"],
        messages.to_seconds(to_recovery(score)) if ran else "-",
        cells["alerts lost"],
        cells["duplicate actions"],
        score.verdict,
    ]


def to_cells(score: ScenarioScore) -> list[str]:
    """The words of one score's row; the Markdown report uses the same ones."""
    ran = score.verdict != "skipped"
    return [
        score.name,
        score.fault,
        score.behaviour or "-",
        messages.to_detection(
            ran=ran,
            fault=score.fault != "none",
            detected=score.detected,
            seconds=score.seconds_to_thread,
        ),
        messages.to_check(score.class_right, score.failure_class),
        messages.to_check(score.playbook_right, score.playbook),
        str(score.writes_before_approval) if ran else "-",
        messages.to_expected_actual(score.expected_outcome, score.outcome) if ran else "-",
        messages.to_expectation(score.rollback_expected, score.rollback_run),
        messages.to_expectation(
            score.escalation_expected, score.escalated, score.seconds_to_escalate
        ),
        messages.to_ratio(score.alerts_lost, score.alerts_sent) if ran else "-",
        str(score.duplicate_actions) if ran else "-",
        score.verdict,
    ]


def to_totals(totals: Totals) -> list[list[str]]:
    """Each total as a label and its value; the Markdown summary shows them as a table."""
    return [
        ["faults detected", messages.to_ratio(totals.detected, totals.faults)],
        ["failure class right", messages.to_ratio(totals.class_right, totals.faults)],
        ["playbook right", messages.to_ratio(totals.playbook_right, totals.faults)],
        ["writes before approval (Airflow, secrets)", str(totals.writes_before_approval)],
        ["remediations verified", str(totals.verified)],
        [
            "rollbacks run",
            messages.to_run_expected(totals.rollbacks_run, totals.rollbacks_expected),
        ],
        ["escalations", messages.to_run_expected(totals.escalations, totals.escalations_expected)],
        ["alerts lost / sent", messages.to_ratio(totals.alerts_lost, totals.alerts_sent)],
        ["duplicate actions", str(totals.duplicate_actions)],
        ["audit chain", messages.to_chain_state(totals.audit_chain_intact)],
        ["drill time", messages.to_seconds(totals.seconds)],
    ]


def to_summary_lines(totals: Totals) -> list[list[list[str]]]:
    """The totals, bar the audit chain and the time, in two lines for under the table."""
    rows = to_totals(totals)
    return [rows[0:4], rows[4:9]]
