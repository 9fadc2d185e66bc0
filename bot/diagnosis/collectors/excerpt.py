"""Bounded excerpts of long logs: the end of the log plus its error blocks.

A task log can be hundreds of megabytes. `LogExcerpt` reads it line by line and keeps only
the last `tail_chars` characters and, within `error_chars`, the first error blocks (an error
line with a few lines before it and the traceback after it), so memory stays bounded and the
root cause near the start survives next to the final failure at the end.
"""

from __future__ import annotations

import re
from collections import deque

ERROR_LINE = re.compile(
    r"Traceback \(most recent call last\)|\b(ERROR|CRITICAL|FATAL|SEVERE)\b|\[error\]"
    r"|^\S*(Error|Exception)\b|Exception in thread|^Caused by:|\bfailed\b",
    re.IGNORECASE,
)
MAX_LINE_CHARS = 2_000


def is_error_line(line: str) -> bool:
    return ERROR_LINE.search(line) is not None


def to_gap_line(count: int) -> str:
    return f"[... {count} log lines not kept ...]"


class LogExcerpt:
    """Feed lines with `add`; `to_text` gives the kept lines with gaps marked."""

    def __init__(
        self,
        *,
        tail_chars: int = 64_000,
        error_chars: int = 64_000,
        lines_before: int = 3,
        lines_after: int = 40,
    ) -> None:
        self._tail_chars = tail_chars
        self._error_chars = error_chars
        self._lines_after = lines_after
        self._tail: deque[tuple[int, str]] = deque()
        self._tail_size = 0
        self._recent: deque[tuple[int, str]] = deque(maxlen=lines_before)
        self._errors: list[tuple[int, str]] = []
        self._errors_size = 0
        self._after_left = 0
        self.line_count = 0

    @property
    def truncated(self) -> bool:
        return self.line_count > len(self._kept())

    def add(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " [...]"
        self.line_count += 1
        entry = (self.line_count, line)
        self._add_to_errors(entry)
        self._recent.append(entry)
        self._tail.append(entry)
        self._tail_size += len(line) + 1
        while self._tail_size > self._tail_chars and len(self._tail) > 1:
            _, dropped = self._tail.popleft()
            self._tail_size -= len(dropped) + 1

    def to_text(self) -> str:
        lines: list[str] = []
        previous = 0
        for number, line in self._kept():
            if number > previous + 1:
                lines.append(to_gap_line(number - previous - 1))
            lines.append(line)
            previous = number
        if previous < self.line_count:
            lines.append(to_gap_line(self.line_count - previous))
        return "\n".join(lines)

    def _add_to_errors(self, entry: tuple[int, str]) -> None:
        if is_error_line(entry[1]):
            if self._after_left == 0:
                for before in self._recent:
                    self._keep_error_line(before)
            self._after_left = self._lines_after
        if self._after_left > 0:
            self._keep_error_line(entry)
            self._after_left -= 1

    def _keep_error_line(self, entry: tuple[int, str]) -> None:
        if self._errors and self._errors[-1][0] >= entry[0]:
            return
        if self._errors_size + len(entry[1]) + 1 > self._error_chars:
            self._after_left = 0
            return
        self._errors.append(entry)
        self._errors_size += len(entry[1]) + 1

    def _kept(self) -> list[tuple[int, str]]:
        tail_start = self._tail[0][0] if self._tail else self.line_count + 1
        return [entry for entry in self._errors if entry[0] < tail_start] + list(self._tail)


class LineSplitter:
    """Splits streamed text into lines, cutting any line longer than `max_chars`.

    A single line without a newline can be gigabytes long; the part past `max_chars` is
    dropped instead of being buffered.
    """

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._partial: list[str] = []
        self._partial_size = 0

    def feed(self, text: str) -> list[str]:
        pieces = text.split("\n")
        lines: list[str] = []
        for piece in pieces[:-1]:
            self._append(piece)
            lines.append("".join(self._partial))
            self._partial, self._partial_size = [], 0
        self._append(pieces[-1])
        return lines

    def flush(self) -> list[str]:
        line = "".join(self._partial)
        self._partial, self._partial_size = [], 0
        return [line] if line else []

    def _append(self, piece: str) -> None:
        room = self._max_chars - self._partial_size
        if room > 0 and piece:
            kept = piece[:room]
            self._partial.append(kept)
            self._partial_size += len(kept)
