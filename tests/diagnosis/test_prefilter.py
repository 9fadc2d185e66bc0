from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.diagnosis.models import Evidence
from bot.diagnosis.normalise import to_log_lines
from bot.diagnosis.prefilter import is_possible, to_candidate_lines, to_literals
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue

DEVSET = Path(__file__).parents[1] / "eval" / "devset.jsonl"


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"\bExpiredToken\b", (("expiredtoken",),)),
        (r"No space left|ENOSPC", (("no space left",), ("enospc",))),
        (r"errors? found", (("error", " found"),)),
        (r"Exit status:\s*137", (("exit status:", "137"),)),
        (r"\b50[234]\b.{0,30}Bad Gateway", (("bad gateway",),)),
        (r"^\s*(?:\w+\.)*(?:TypeError|NameError):", (("typeerror",), ("nameerror",))),
        (r"(?P<column>\w+) does not exist", ((" does not exist",),)),
        (r"Lost executor \d+", (("lost executor ",),)),
        (r"[A-Z]+Error|ab", None),
        (r"(?:optional )?x", None),
    ],
)
def test_literals_are_the_runs_each_branch_needs(
    regex: str, expected: tuple[tuple[str, ...], ...] | None
) -> None:
    assert to_literals(regex) == expected


def test_missing_literal_rules_a_pattern_out() -> None:
    literals = to_literals(r"executor \d+ exited (?:unrelated|caused)")

    assert is_possible(literals, "executor 3 exited caused by one of the running tasks")
    assert not is_possible(literals, "finished task 1.0 on executor 3")
    assert is_possible(None, "anything")


def test_candidate_lines_are_those_holding_a_literal() -> None:
    lines = ["info starting", "warn slowdown on put", "info done", "error slowdown again"]
    text = "\n".join(lines)
    starts = [sum(len(line) + 1 for line in lines[:index]) for index in range(len(lines))]

    found: dict[str, list[int]] = {}
    candidates = to_candidate_lines((("slowdown",),), text, starts, found)

    assert list(candidates) == [1, 3]
    assert found == {"slowdown": [1, 3]}


def test_prefilter_never_hides_a_match_of_a_builtin_pattern() -> None:
    catalogue = load_catalogue(builtin_runbooks_dir())
    texts = [json.loads(line)["text"] for line in DEVSET.read_text().splitlines()]
    lines = to_log_lines([Evidence(source="log", text=text) for text in texts])
    regexes = [
        pattern.regex
        for playbook in catalogue.playbooks
        for pattern in playbook.recognition.patterns
    ]

    for regex in regexes:
        compiled = re.compile(regex, re.IGNORECASE | re.MULTILINE)
        literals = to_literals(regex)
        for line in lines:
            if compiled.search(line.normal):
                assert is_possible(literals, line.lowered), (regex, line.text)
