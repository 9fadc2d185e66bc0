"""Log text made comparable: lines with volatile tokens replaced, their level, their outcome.

Patterns are matched against the normalised line, so a timestamp or an id never looks like
an HTTP status or an exit code. The original text is kept for people and for placeholder
values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.diagnosis.models import Evidence

MAX_LINE_CHARS = 2_000
MAX_LINES = 5_000

# Order matters: whole timestamps before bare times, uuids before hex ids.
VOLATILE = (
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}[T ,]+\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
            r"(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
        ),
        "<ts>",
    ),
    (re.compile(r"\b\d{2}/\d{2}/\d{2,4} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"), "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"), "<ip>"),
)
# The lookbehind starts a token only at its first character, keeping the scan linear.
PATH_TOKEN = re.compile(r"(?<![\w.~-])[\w.~-]*(?:/[\w.=~<>-]*)+")
DIGITS = re.compile(r"\d+")

LEVEL = re.compile(
    r"(?:^|[\s\[|(])(?P<level>ERROR|FATAL|CRITICAL|SEVERE|WARN(?:ING)?|INFO|DEBUG|TRACE)"
    r"(?=[\s:\]|)-]|$)",
    re.IGNORECASE,
)
LEVEL_SEARCH_CHARS = 80
LEVELS = {
    "error": "error",
    "fatal": "error",
    "critical": "error",
    "severe": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}

# A failure shown by the log itself, whatever its class: exceptions, failed states, non-zero
# exits. Used to tell "a failure we cannot name" (unknown) from "no failure" (none).
FAILURE = re.compile(
    r"Traceback \(most recent call last\)|^\s*(?:[\w.$]+\.)?\w*(?:Error|Exception|Failure)\b"
    r"|^\s*Caused by:|\bTask failed\b|Marking task as (?:FAILED|UP_FOR_RETRY)"
    r"|final_state=failed|\bstate=failed\b|final status: FAILED|\bJob aborted\b"
    r"|\bexit(?:ed with)? (?:code|status):? ?(?:[1-9]|-)|return code (?:[1-9]|-|Negsignal)"
    r"|\bFAILED\b|\bFailure in test\b|\bERROR=[1-9]|Completed with [1-9]\d* errors?"
    r"|JobRunState\W+(?:FAILED|TIMEOUT|ERROR)|\bstatus\W+FAILED\b",
    re.IGNORECASE | re.MULTILINE,
)
# A terminal success: when it comes after every failure line, the failures were retried away.
SUCCESS = re.compile(
    r"Marking task as SUCCESS|final_state=success|Task exited with return code 0\b"
    r"|Command exited with return code 0\b|final status: SUCCEEDED|JobRunState\W+SUCCEEDED"
    r"|\bDone\. PASS=\d+ WARN=\d+ ERROR=0\b|Completed successfully"
    r"|\bJob \d+ finished:|\bstate=success\b|Successfully (?:ran|completed)",
    re.IGNORECASE,
)
# Every FAILURE and SUCCESS branch holds one of these words; other lines skip the regex.
FAILURE_WORDS = (
    "error",
    "exception",
    "fail",
    "traceback",
    "caused by",
    "abort",
    "exit",
    "code",
    "retry",
    "timeout",
)
SUCCESS_WORDS = ("success", "succeeded", "code 0", "pass=", "finished", "completed")
# Lines that only talk about errors in passing: counters at zero, summaries, handlers.
NO_ERROR = re.compile(
    r"\b(?:0|no|zero) (?:errors?|failures?|exceptions?)\b|\berrors?[=:]\s*0\b"
    r"|\bERROR=0\b|\bfailed[=:]\s*0\b|\bwithout (?:any )?errors?\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class LogLine:
    """One line of evidence: where it is, what it says, its level and outcome.

    The normalised form is made on first use: only lines that hold a word some pattern
    needs are ever normalised, which keeps long logs cheap.
    """

    position: int
    source: str
    line_number: int
    text: str
    lowered: str
    level: str | None
    is_failure: bool
    is_success: bool
    _normal: str | None = field(default=None, repr=False, compare=False)

    @property
    def normal(self) -> str:
        if self._normal is None:
            self._normal = to_normal(self.text)
        return self._normal


@dataclass(frozen=True, slots=True)
class ParsedLog:
    """The evidence's lines, and their text joined once for whole-log searches."""

    lines: list[LogLine]
    text: str
    lowered: str
    starts: list[int]
    # Lines holding each literal searched so far; patterns share many literals.
    found: dict[str, list[int]] = field(default_factory=dict)

    @property
    def has_failure(self) -> bool:
        return any(line.is_failure for line in self.lines)


def to_parsed_log(evidence: Sequence[Evidence]) -> ParsedLog:
    lines = to_log_lines(evidence)
    starts = []
    offset = 0
    for line in lines:
        starts.append(offset)
        offset += len(line.text) + 1
    text = "\n".join(line.text for line in lines)
    return ParsedLog(lines, text, "\n".join(line.lowered for line in lines), starts)


def to_log_lines(evidence: Sequence[Evidence]) -> list[LogLine]:
    """The distinct non-blank lines of every piece of evidence, in order.

    A line already seen in the same source is skipped, so a message repeated by each retry
    is one line; line numbers stay those of the source.
    """
    lines: list[LogLine] = []
    for item in evidence:
        seen: set[str] = set()
        for number, raw in enumerate(item.text.splitlines(), start=1):
            text = raw.rstrip()[:MAX_LINE_CHARS]
            if not text.strip() or text in seen:
                continue
            seen.add(text)
            lines.append(to_log_line(len(lines), item.source, number, text))
            if len(lines) >= MAX_LINES:
                return lines
    return lines


def to_log_line(position: int, source: str, number: int, text: str) -> LogLine:
    level = to_level(text)
    lowered = text.lower()
    return LogLine(
        position=position,
        source=source,
        line_number=number,
        text=text,
        lowered=lowered,
        level=level,
        is_failure=is_failure(text, lowered, level),
        is_success=is_success(lowered),
    )


def to_normal(text: str) -> str:
    """The line with timestamps, uuids, hex ids, addresses and numbers in paths replaced."""
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    if "/" not in text:
        return text
    return PATH_TOKEN.sub(lambda match: DIGITS.sub("<n>", match[0]), text)


def to_level(text: str) -> str | None:
    match = LEVEL.search(text[:LEVEL_SEARCH_CHARS])
    return LEVELS[match["level"].lower()] if match else None


def is_failure(text: str, lowered: str, level: str | None) -> bool:
    """An error-level line or a failure marker, unless it only counts errors at zero."""
    if level != "error":
        if not any(word in lowered for word in FAILURE_WORDS) or not FAILURE.search(text):
            return False
    return NO_ERROR.search(text) is None


def is_success(lowered: str) -> bool:
    return any(word in lowered for word in SUCCESS_WORDS) and SUCCESS.search(lowered) is not None
