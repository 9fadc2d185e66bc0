from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from bot.chaos.environment import (
    HASH_FILE,
    Java,
    ensure_venv,
    get_requirements,
    is_current,
    to_java_major,
    to_requirements_hash,
)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 8),
        ("command not found", None),
    ],
)
def test_java_major_version_is_read_from_version_output(output: str, major: int | None) -> None:
    assert to_java_major(output) == major


@pytest.mark.parametrize(
    ("java", "has_spark"),
    [
        (Java(17, "Java 17"), True),
        (Java(11, "Java 11 found"), False),
        (Java(None, "no java"), False),
    ],
)
def test_pyspark_is_required_only_with_java_17_or_later(java: Java, has_spark: bool) -> None:
    requirements = get_requirements(java)

    assert any(item.startswith("apache-airflow==3.") for item in requirements)
    assert any(item.startswith("pyspark==") for item in requirements) is has_spark


def test_venv_with_matching_requirements_hash_is_reused_without_pip(tmp_path: Path) -> None:
    requirements = ["apache-airflow==3.3.2"]
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / HASH_FILE).write_text(to_requirements_hash(requirements) + "\n", encoding="utf-8")
    shown = io.StringIO()

    assert ensure_venv(venv, requirements, console=Console(file=shown)) == venv / "bin"
    assert shown.getvalue() == ""


def test_changed_requirements_make_the_venv_outdated(tmp_path: Path) -> None:
    (tmp_path / HASH_FILE).write_text(to_requirements_hash(["a==1"]), encoding="utf-8")

    assert is_current(tmp_path, ["a==1"])
    assert not is_current(tmp_path, ["a==2"])
    assert not is_current(tmp_path / "missing", ["a==1"])
