"""The drill report's two PNG charts, drawn with matplotlib's object API (no pyplot).

    create_times_chart(report.scenarios, Path("out/times.png"), Figure)
    create_outcome_chart(report.scenarios, Path("out/outcomes.png"), Figure)

Scenarios are drawn top to bottom in the order they ran; a failed one's name is red. The
caller passes `Figure` and matplotlib is imported only while drawing, so this module loads
(for `to_recovery`, say) where matplotlib is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.chaos.models import ScenarioScore

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

OUTCOMES = ("verified", "rolled_back", "escalated", "no_incident", "none")
# Okabe-Ito colours: told apart by people with the common colour-vision deficiencies.
BLUE, GREEN, ORANGE, RED, GREY = "#0072B2", "#009E73", "#E69F00", "#D55E00", "#999999"
VERDICT_COLOURS = {"passed": GREEN, "failed": RED, "skipped": GREY}
BAR_HEIGHT = 0.38
DPI = 120


def create_times_chart(scores: list[ScenarioScore], path: Path, figure_class: type[Figure]) -> None:
    """Grouped bars: seconds to the incident thread, then to recovery or escalation."""
    figure = figure_class(figsize=(9, 1.6 + 0.6 * len(scores)), layout="constrained", dpi=DPI)
    axes = figure.add_subplot()
    rows = range(len(scores))
    detect = [score.seconds_to_thread for score in scores]
    recover = [to_recovery(score) for score in scores]
    recover_colours = [BLUE if score.seconds_to_recover is None else GREEN for score in scores]

    axes.barh(
        [row - BAR_HEIGHT / 2 for row in rows],
        [v or 0 for v in detect],
        BAR_HEIGHT,
        color=ORANGE,
        label="fault to thread (detect)",
    )
    axes.barh(
        [row + BAR_HEIGHT / 2 for row in rows],
        [v or 0 for v in recover],
        BAR_HEIGHT,
        color=recover_colours,
    )
    longest = max([value or 0 for value in detect + recover] + [1])
    for row, score in enumerate(scores):
        label_bar(axes, row - BAR_HEIGHT / 2, detect[row], longest, to_detect_gap(score))
        label_bar(axes, row + BAR_HEIGHT / 2, recover[row], longest, to_recovery_gap(score))

    set_scenario_labels(axes, scores)
    axes.invert_yaxis()
    axes.set_xlim(0, longest * 1.22)
    axes.set_xlabel("seconds from the fault's DAG run being triggered")
    axes.set_title("Time to detect, and to recover or escalate", loc="left")
    add_legend(
        axes,
        [
            to_handle("to thread (detect)", ORANGE, "s"),
            to_handle("to recover", GREEN, "s"),
            to_handle("to escalate", BLUE, "s"),
        ],
    )
    tidy(axes, grid_axis="x")
    figure.savefig(path)


def create_outcome_chart(
    scores: list[ScenarioScore], path: Path, figure_class: type[Figure]
) -> None:
    """Expected outcome as a ring, actual outcome as a dot coloured by the verdict."""
    figure = figure_class(figsize=(9, 1.6 + 0.45 * len(scores)), layout="constrained", dpi=DPI)
    axes = figure.add_subplot()
    rows = list(range(len(scores)))
    expected = [OUTCOMES.index(score.expected_outcome) for score in scores]
    ran = [
        (row, score) for row, score in zip(rows, scores, strict=True) if score.verdict != "skipped"
    ]

    axes.scatter(expected, rows, s=260, facecolors="none", edgecolors="#333333", linewidths=1.5)
    axes.scatter(
        [OUTCOMES.index(score.outcome or "none") for _, score in ran],
        [row for row, _ in ran],
        s=90,
        c=[VERDICT_COLOURS[score.verdict] for _, score in ran],
        zorder=3,
    )
    for row, score in zip(rows, scores, strict=True):
        if score.verdict == "skipped":
            axes.annotate(
                "skipped",
                (expected[row], row),
                xytext=(14, 0),
                textcoords="offset points",
                va="center",
                color=GREY,
            )

    labels = ["verified", "rolled back", "escalated", "no incident", "no outcome"]
    axes.set_xticks(range(len(OUTCOMES)), [label.replace(" ", "\n") for label in labels])
    set_scenario_labels(axes, scores)
    axes.set_xlim(-0.5, len(OUTCOMES) - 0.5)
    axes.set_ylim(max(len(scores), 1) - 0.5, -0.5)
    axes.set_title("Outcome per scenario: ring expected, dot actual", loc="left")
    add_legend(
        axes,
        [
            to_handle("expected", "#333333", "o", hollow=True),
            to_handle("actual, passed", GREEN, "o"),
            to_handle("actual, failed", RED, "o"),
        ],
    )
    tidy(axes, grid_axis="both")
    figure.savefig(path)


def set_scenario_labels(axes: Axes, scores: list[ScenarioScore]) -> None:
    """Name each row by its scenario; a failed scenario's name is drawn in red."""
    axes.set_yticks(range(len(scores)), [score.name for score in scores])
    for label, score in zip(axes.get_yticklabels(), scores, strict=True):
        if score.verdict == "failed":
            label.set_color(RED)


def to_recovery(score: ScenarioScore) -> float | None:
    return (
        score.seconds_to_recover
        if score.seconds_to_recover is not None
        else score.seconds_to_escalate
    )


def to_detect_gap(score: ScenarioScore) -> str:
    if score.verdict == "skipped":
        return "skipped"
    return "no incident" if score.fault == "none" else "not detected"


def to_recovery_gap(score: ScenarioScore) -> str:
    return "" if score.verdict == "skipped" or score.fault == "none" else "did not end"


def label_bar(axes: Axes, y: float, value: float | None, longest: float, gap: str) -> None:
    text = gap if value is None else f"{value:.0f} s"
    colour = GREY if value is None else "#333333"
    axes.text((value or 0) + longest * 0.01, y, text, va="center", fontsize=8, color=colour)


def to_handle(label: str, colour: str, marker: str, *, hollow: bool = False) -> Line2D:
    from matplotlib.lines import Line2D

    face = "none" if hollow else colour
    return Line2D(
        [],
        [],
        marker=marker,
        linestyle="",
        markersize=9,
        color=colour,
        markerfacecolor=face,
        label=label,
    )


def add_legend(axes: Axes, handles: list[Line2D]) -> None:
    axes.legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))


def tidy(axes: Axes, grid_axis: Literal["x", "y", "both"]) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis=grid_axis, color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.tick_params(length=0)
