"""Words `incident-bot eval` prints: problems with a data set and the report's headings."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


def to_unreadable(path: Path, exc: Exception) -> str:
    return f"{path}: cannot be read ({exc})"


def to_empty(path: Path) -> str:
    return f"{path}: holds no cases"


def to_line_problem(path: Path, number: int, exc: ValidationError) -> str:
    details = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        details.append(f"{field}: {message}" if field else message)
    return f"{path}: line {number}: {'; '.join(details)}"


def to_invalid_dataset(count: int) -> str:
    return f"{count} malformed line{'s' if count != 1 else ''}; nothing was scored"


def to_progress_label(path: Path) -> str:
    return f"Diagnosing {path.name}"


def to_table_title(cases: int) -> str:
    return f"Rule engine on {cases} cases"


def to_summary_lines(
    *, accuracy: float, misdiagnosis: float, abstain: float, false_positive: float
) -> list[str]:
    return [
        f"accuracy {accuracy:.1%} of failure cases",
        f"misdiagnosis {misdiagnosis:.1%}, abstained {abstain:.1%}",
        f"false positives {false_positive:.1%} of benign cases",
    ]


def to_latency_line(p50: float, p95: float, p99: float) -> str:
    return f"latency p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms"


def to_mistake_line(case_id: str, label: str, predicted: str, confidence: float) -> str:
    return f"  {case_id}: expected {label}, got {predicted} ({confidence:.2f})"
