from __future__ import annotations

import pytest

from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(builtin_runbooks_dir())


@pytest.mark.parametrize(
    ("failure_class", "platform", "expected"),
    [
        ("out-of-memory", "spark", "out-of-memory-spark"),
        ("out-of-memory", "airflow", "out-of-memory-airflow"),
        ("schema-drift", "dbt", "schema-drift-airflow"),
        ("missing-input", "spark", "missing-input-spark"),
        ("expired-credential", "spark", "expired-credential"),
        ("expired-credential", None, "expired-credential"),
        ("dag-import-error", "spark", "dag-import-error"),
    ],
)
def test_for_class_prefers_the_platform_variant(
    catalogue: Catalogue, failure_class: str, platform: str | None, expected: str
) -> None:
    playbook = catalogue.for_class(failure_class, platform)

    assert playbook is not None
    assert playbook.id == expected


def test_for_class_of_unknown_class_is_none(catalogue: Catalogue) -> None:
    assert catalogue.for_class("unknown") is None


def test_get_returns_the_playbook_or_none(catalogue: Catalogue) -> None:
    playbook = catalogue.get("disk-full")

    assert playbook is not None
    assert playbook.failure_class == "disk-full"
    assert catalogue.get("no-such-playbook") is None


@pytest.mark.parametrize(
    ("query", "expected_first"),
    [
        ("spark executor out of memory", "out-of-memory-spark"),
        ("ExpiredToken rotate credential", "expired-credential"),
        ("dbt test failed not_null", "data-quality"),
        ("zombie heartbeat airflow worker", "infra-lost-worker-airflow"),
    ],
)
def test_search_ranks_the_best_matching_playbook_first(
    catalogue: Catalogue, query: str, expected_first: str
) -> None:
    results = catalogue.search(query, limit=3)

    assert results[0].id == expected_first
    assert len(results) <= 3


def test_search_without_shared_words_finds_nothing(catalogue: Catalogue) -> None:
    assert catalogue.search("qwertyuiop zxcvbnm") == []
