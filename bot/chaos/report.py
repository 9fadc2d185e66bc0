"""The drill report in files: Markdown with PNG charts, and the JSON `chaos run` prints.

    check_charts()                              # before the drills: is matplotlib there?
    path = write_report(report, Path("out"))    # out/report.md and its two charts

matplotlib is an optional extra (`pip install 'incident-bot[chaos]'`), imported only here
and only when a report is written. Figures are drawn on matplotlib's `Figure` directly, never
through pyplot, so no GUI backend or global figure state is involved; PNGs render with Agg.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from bot.chaos import messages
from bot.chaos.charts import create_outcome_chart, create_times_chart
from bot.chaos.display import COLUMNS, to_cells, to_totals
from bot.chaos.models import DrillReport, ScenarioScore, Totals
from bot.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_NAME = "report.md"
TIMES_CHART = "time-to-detect-and-recover.png"
OUTCOME_CHART = "outcome-per-scenario.png"


def to_json(report: DrillReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)


def check_charts() -> None:
    """Raise ConfigError with the install command when matplotlib is missing."""
    get_figure_class()


def get_figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ConfigError(messages.to_charts_unavailable()) from exc
    return Figure


def write_report(report: DrillReport, folder: Path) -> Path:
    """Write `folder/report.md` and the charts it embeds; return the Markdown's path."""
    figure_class = get_figure_class()
    folder.mkdir(parents=True, exist_ok=True)
    create_times_chart(report.scenarios, folder / TIMES_CHART, figure_class)
    create_outcome_chart(report.scenarios, folder / OUTCOME_CHART, figure_class)
    path = folder / REPORT_NAME
    path.write_text(build_markdown(report), encoding="utf-8")
    return path


def build_markdown(report: DrillReport) -> str:
    totals = report.totals
    verdict = messages.to_drills_verdict(report.passed)
    title = messages.to_drills_title(totals.passed, totals.failed, totals.skipped)
    summary = f"**{verdict}**. {title}."
    lines = ["# Chaos drill report", "", summary, "", *build_totals_table(totals), ""]
    lines += [
        "## Charts",
        "",
        f"![Seconds to detect and to recover or escalate, per scenario]({TIMES_CHART})",
        "",
        f"![Expected and actual outcome, per scenario]({OUTCOME_CHART})",
        "",
        "## Scenarios",
        "",
        *build_markdown_table(list(COLUMNS), [to_cells(score) for score in report.scenarios]),
        "",
        "## Problems",
        "",
        *build_problems(report.scenarios),
    ]
    return "\n".join(lines)


def build_totals_table(totals: Totals) -> list[str]:
    return build_markdown_table(["measure", "result"], to_totals(totals))


def build_markdown_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    lines = [to_markdown_row(headings), "|" + "---|" * len(headings)]
    return lines + [to_markdown_row(row) for row in rows]


def to_markdown_row(cells: list[str]) -> str:
    escaped = (cell.replace("|", "\\|").replace("\n", " ") for cell in cells)
    return "| " + " | ".join(escaped) + " |"


def build_problems(scores: list[ScenarioScore]) -> list[str]:
    lines: list[str] = []
    for score in scores:
        problems = list(score.problems)
        if score.verdict == "skipped":
            problems.insert(0, messages.to_skipped_problem(score.skip_reason))
        if not problems:
            continue
        lines += [f"### {score.name} ({score.verdict})", ""]
        lines += [f"- {problem}" for problem in problems] + [""]
    return lines or [messages.to_no_problems()]
