"""Literal prefilters: skip a regular expression when none of its required words is present.

Python's `re` scans a whole log for each of a catalogue's hundred-odd patterns; a substring
test is far cheaper. For a pattern `A|B|C`, each branch's literal runs outside any group
must occur in a text the branch matches, so when no branch has all of its runs in the
lower-cased text the pattern cannot match and is not run. A branch needs every one of its
literal runs, which sharpens the test for a branch such as "executor N exited (caused|...)".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

MIN_LITERAL = 3
# Escapes that stand for a class of characters or a position, not for themselves.
CLASS_ESCAPES = frozenset("dDwWsSbBAZ0123456789ntrfvx")


def to_literals(regex: str) -> tuple[tuple[str, ...], ...] | None:
    """Per alternative, the lower-cased literal runs it needs; None if one needs none.

    A branch without a literal of its own is replaced by the alternatives of a group it
    cannot skip, as in `(?:TypeError|NameError):`.
    """
    literals: list[tuple[str, ...]] = []
    for branch in to_branches(regex):
        runs = tuple(run.lower() for run in to_literal_runs(branch) if len(run) >= MIN_LITERAL)
        if runs:
            literals.append(runs)
            continue
        inner = to_group_literals(branch)
        if inner is None:
            return None
        literals.extend(inner)
    return tuple(literals)


def to_group_literals(branch: str) -> tuple[tuple[str, ...], ...] | None:
    """The literals of the branch's required group whose shortest literal is longest."""
    candidates = [
        literals
        for group in to_required_groups(branch)
        if (literals := to_literals(group)) is not None
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda literals: min(len(run) for runs in literals for run in runs))


def is_possible(literals: tuple[tuple[str, ...], ...] | None, lowered_text: str) -> bool:
    """False only when no branch has all its literal runs in the text."""
    if literals is None:
        return True
    return any(all(run in lowered_text for run in runs) for runs in literals)


def to_candidate_lines(
    literals: tuple[tuple[str, ...], ...] | None,
    lowered_text: str,
    starts: Sequence[int],
    found: dict[str, list[int]],
) -> Iterable[int]:
    """Indexes of the lines (starting at `starts` in the text) that may match, in order.

    Found with `str.find` on each branch's longest run, so the cost follows the number of
    occurrences rather than the number of lines; `found` remembers each run's lines.
    """
    if literals is None:
        return range(len(starts))
    if len(literals) == 1:
        return to_lines_with(max(literals[0], key=len), lowered_text, starts, found)
    lines: set[int] = set()
    for runs in literals:
        lines.update(to_lines_with(max(runs, key=len), lowered_text, starts, found))
    return sorted(lines)


def to_lines_with(
    run: str, lowered_text: str, starts: Sequence[int], found: dict[str, list[int]]
) -> list[int]:
    if run in found:
        return found[run]
    lines = []
    position = lowered_text.find(run)
    while position != -1:
        index = bisect_right(starts, position) - 1
        lines.append(index)
        following = starts[index + 1] if index + 1 < len(starts) else len(lowered_text)
        position = lowered_text.find(run, following)
    found[run] = lines
    return lines


def to_branches(regex: str) -> list[str]:
    """The regex split at `|` outside groups and character classes."""
    branches: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = to_class_end(regex, index)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(regex[start:index])
            start = index + 1
        index += 1
    branches.append(regex[start:])
    return branches


def to_required_groups(branch: str) -> list[str]:
    """The bodies of the branch's top-level groups that no quantifier makes optional."""
    groups: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(branch):
        char = branch[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = to_class_end(branch, index)
        elif char == "(":
            if depth == 0:
                start = index
            depth += 1
        elif char == ")":
            depth -= 1
            following = branch[index + 1 : index + 2]
            if depth == 0 and following not in ("?", "*", "{"):
                groups.append(branch[start : index + 1])
        index += 1
    return [body for group in groups if (body := to_group_body(group)) is not None]


def to_group_body(group: str) -> str | None:
    """A group's pattern without its opening syntax; None for lookarounds and flags."""
    if group.startswith("(?P<"):
        return group[group.index(">") + 1 : -1]
    if group.startswith("(?:"):
        return group[3:-1]
    if group.startswith("(?"):
        return None
    return group[1:-1]


def to_literal_runs(branch: str) -> list[str]:
    """Runs of characters the branch must match literally, outside groups and classes."""
    runs: list[str] = []
    current: list[str] = []
    depth = 0
    index = 0

    def close() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    while index < len(branch):
        char = branch[index]
        if char == "\\" and index + 1 < len(branch):
            escaped = branch[index + 1]
            index += 2
            if depth == 0 and escaped not in CLASS_ESCAPES:
                current.append(escaped)
            else:
                close()
            continue
        if char in "?*{":
            # The preceding character may be absent, or repeated: `{m,n}` is skipped whole.
            if current and depth == 0:
                current.pop()
            close()
            if char == "{":
                index = max(index, branch.find("}", index))
        elif char == "+":
            close()
        elif char == "[":
            index = to_class_end(branch, index)
            close()
        elif char == "(":
            depth += 1
            close()
        elif char == ")":
            depth -= 1
        elif char in ".^$":
            close()
        elif depth == 0:
            current.append(char)
        index += 1
    close()
    return runs


def to_class_end(regex: str, start: int) -> int:
    """The index of the `]` closing the character class opened at `start`."""
    index = start + 1
    if index < len(regex) and regex[index] == "^":
        index += 1
    if index < len(regex) and regex[index] == "]":
        index += 1
    while index < len(regex) and regex[index] != "]":
        index += 2 if regex[index] == "\\" else 1
    return index
