"""The loaded set of playbooks and the ways to look one up."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.runbooks.models import Platform, Playbook

WORD = re.compile(r"[a-z0-9]+")


class Catalogue:
    """Every playbook that was loaded, in load order; ids are unique."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self.playbooks: tuple[Playbook, ...] = tuple(playbooks)
        self._by_id = {playbook.id: playbook for playbook in self.playbooks}
        self._words = {playbook.id: to_search_words(playbook) for playbook in self.playbooks}

    def __len__(self) -> int:
        return len(self.playbooks)

    def get(self, playbook_id: str) -> Playbook | None:
        return self._by_id.get(playbook_id)

    def for_class(self, failure_class: str, platform: str | None = None) -> Playbook | None:
        """The playbook for a class, preferring one written for `platform`.

        A playbook that names the platform wins over one that applies to `any`, which wins
        over a playbook written for another platform; load order breaks ties.
        """
        candidates = [p for p in self.playbooks if p.failure_class == failure_class]
        if not candidates:
            return None
        return min(candidates, key=lambda playbook: to_platform_rank(playbook, platform))

    def search(self, query: str, limit: int = 5) -> list[Playbook]:
        """Playbooks whose words overlap the query most, best first; none when nothing does."""
        query_words = set(WORD.findall(query.lower()))
        scored: list[tuple[int, int, Playbook]] = []
        for index, playbook in enumerate(self.playbooks):
            title_words, body_words = self._words[playbook.id]
            score = 3 * len(query_words & title_words) + len(query_words & body_words)
            if score:
                scored.append((-score, index, playbook))
        return [playbook for _, _, playbook in sorted(scored)[:limit]]


def to_platform_rank(playbook: Playbook, platform: str | None) -> int:
    if playbook.is_for(platform):
        return 0
    if Platform.ANY in playbook.applies_to:
        return 1
    return 2


def to_search_words(playbook: Playbook) -> tuple[set[str], set[str]]:
    """The words of a playbook's id, class and title, and of the rest of its text."""
    title = " ".join([playbook.id, playbook.failure_class, playbook.title])
    body = " ".join(
        [
            playbook.diagnosis,
            *playbook.checks,
            *(str(platform) for platform in playbook.applies_to),
            *(pattern.regex for pattern in playbook.recognition.patterns),
            *(step.title for step in playbook.remediation),
        ]
    )
    return set(WORD.findall(title.lower())), set(WORD.findall(body.lower()))
