"""Bounded log excerpts: the tail, the early error blocks, and cut lines."""

from __future__ import annotations

import pytest

from bot.diagnosis.collectors.excerpt import LineSplitter, LogExcerpt, is_error_line


def build_excerpt(lines: list[str], **limits: int) -> LogExcerpt:
    excerpt = LogExcerpt(**limits)
    for line in lines:
        excerpt.add(line)
    return excerpt


def test_short_log_is_kept_whole():
    lines = ["INFO - start", "ERROR - boom", "INFO - end"]

    excerpt = build_excerpt(lines)

    assert excerpt.to_text() == "\n".join(lines)
    assert not excerpt.truncated


def test_long_log_keeps_the_early_error_block_and_the_tail_with_gaps_counted():
    lines = [f"INFO - row {index}" for index in range(1_000)]
    lines[100:103] = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1',
        "KeyError: 'x'",
    ]

    excerpt = build_excerpt(lines, tail_chars=200, lines_before=2, lines_after=4)

    kept = excerpt.to_text().splitlines()
    assert kept[0] == "[... 98 log lines not kept ...]"
    assert kept[1:3] == ["INFO - row 98", "INFO - row 99"]
    assert "KeyError: 'x'" in kept
    assert kept[-1] == "INFO - row 999"
    assert excerpt.truncated and excerpt.line_count == 1_000


def test_error_blocks_stop_at_their_budget():
    lines = [f"ERROR - failure number {index}" for index in range(10_000)]

    excerpt = build_excerpt(lines, tail_chars=1_000, error_chars=2_000)

    assert len(excerpt.to_text()) < 4_000
    assert "failure number 0" in excerpt.to_text()


def test_overlong_line_is_cut():
    excerpt = build_excerpt(["x" * 10_000])

    assert excerpt.to_text().endswith(" [...]") and len(excerpt.to_text()) < 2_100


def test_splitter_joins_lines_across_chunks_and_drops_what_exceeds_its_limit():
    splitter = LineSplitter(max_chars=5)

    lines = splitter.feed("abc") + splitter.feed("defgh\nij") + splitter.feed("\nklm")

    assert lines + splitter.flush() == ["abcde", "ij", "klm"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("KeyError: \"['amount'] not in index\"", True),
        ("java.lang.OutOfMemoryError: Java heap space", True),
        ("[2025-06-01] {taskinstance.py:2905} ERROR - Task failed", True),
        ("Caused by: java.io.IOException: No space left on device", True),
        ("INFO - processed 5000 rows", False),
    ],
)
def test_error_lines_are_recognised(line, expected):
    assert is_error_line(line) is expected
