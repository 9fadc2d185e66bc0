from __future__ import annotations

import pytest

from bot.diagnosis.models import Evidence
from bot.diagnosis.normalise import to_level, to_log_lines, to_normal, to_parsed_log


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2024-05-03, 02:00:05 UTC] ERROR - x", "[<ts>] ERROR - x"),
        ("24/05/06 03:11:02 INFO SparkContext: up", "<ts> INFO SparkContext: up"),
        ("[2025-06-10T02:00:03.512873Z] INFO task", "[<ts>] INFO task"),
        ("job 550e8400-e29b-41d4-a716-446655440000 done", "job <uuid> done"),
        ("object at 0x7f1e2d3c4b50>", "object at <hex>>"),
        ("Failed to connect to /10.0.7.31:7337", "Failed to connect to /<ip>"),
        ("s3://lake/dt=2024-05-02/part-00017.parquet", "s3://lake/dt=<n>-<n>-<n>/part-<n>.parquet"),
        ("503 Server Error: Service Unavailable", "503 Server Error: Service Unavailable"),
    ],
)
def test_volatile_tokens_are_replaced(text: str, expected: str) -> None:
    assert to_normal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2024-05-03, 02:00:05 UTC] {taskinstance.py:2905} ERROR - Task failed", "error"),
        ("24/05/06 03:11:02 WARN TaskSetManager: Lost task", "warning"),
        ("2024-08-14 04:12:55,103 INFO compact_events: read", "info"),
        ("02:10:20  Done. PASS=2 WARN=0 ERROR=1 SKIP=0 TOTAL=3", None),
        ("java.lang.OutOfMemoryError: Java heap space", None),
    ],
)
def test_level_is_read_from_the_line_head(text: str, expected: str | None) -> None:
    assert to_level(text) == expected


@pytest.mark.parametrize(
    ("text", "is_failure"),
    [
        ("[ts] {taskinstance.py:2905} ERROR - Task failed with exception", True),
        ("KeyError: \"['amount'] not in index\"", True),
        ("[ts] INFO - Marking task as UP_FOR_RETRY. dag_id=a", True),
        ("[ts] INFO - Task exited with return code Negsignal.SIGKILL", True),
        ("INFO loaded 120 rows (0 errors, 0 rejected)", False),
        ("INFO writing table ops.error_summary", False),
        ("02:10:20  Done. PASS=3 WARN=0 ERROR=0 SKIP=0 TOTAL=3", False),
    ],
)
def test_failure_lines_are_told_from_lines_that_mention_errors(text: str, is_failure: bool) -> None:
    [line] = to_log_lines([Evidence(source="log", text=text)])

    assert line.is_failure is is_failure


def test_repeated_lines_count_once_and_keep_their_first_number() -> None:
    text = "start\n\nretrying\nretrying\nfailed for good"

    lines = to_log_lines([Evidence(source="log", text=text)])

    assert [(line.line_number, line.text) for line in lines] == [
        (1, "start"),
        (3, "retrying"),
        (5, "failed for good"),
    ]


def test_parsed_log_knows_where_each_line_starts() -> None:
    log = to_parsed_log([Evidence(source="a", text="one\ntwo"), Evidence(source="b", text="3")])

    assert [log.text[start : start + 3] for start in log.starts] == ["one", "two", "3"]
    assert [line.source for line in log.lines] == ["a", "a", "b"]
