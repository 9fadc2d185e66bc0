"""Read chaos scenarios from folders of YAML files and validate every field.

The built-in scenarios live next to this module; users add folders of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.chaos import messages
from bot.chaos.models import Scenario
from bot.errors import ConfigError
from bot.yamlfiles import get_model

logger = logging.getLogger(__name__)

# Known limit: scenarios/ and dags/ hold no __init__.py, so the wheel's package data leaves
# them out; the harness runs from a checkout (an editable install).
BUILTIN_DIR = Path(__file__).resolve().parent / "scenarios"


@dataclass
class ScenarioLoad:
    scenarios: list[Scenario] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_scenarios(*paths: Path) -> list[Scenario]:
    """Every scenario under the given folders (or files), the built-in ones by default.

    Raises ConfigError listing each problem as `file: field: message`.
    """
    result = get_scenarios(*(paths or (BUILTIN_DIR,)))
    if result.problems:
        raise ConfigError(messages.to_load_failed(result.problems))
    logger.info("chaos scenarios loaded: %d", len(result.scenarios))
    return result.scenarios


def get_scenarios(*paths: Path) -> ScenarioLoad:
    """Every valid scenario and every problem found, without raising."""
    result = ScenarioLoad()
    first_seen: dict[str, Path] = {}
    for file in to_scenario_files(paths, result.problems):
        scenario = get_scenario(file, result.problems)
        if scenario is None:
            continue
        if scenario.name in first_seen:
            result.problems.append(
                messages.to_duplicate_name(file, scenario.name, first_seen[scenario.name])
            )
            continue
        first_seen[scenario.name] = file
        result.scenarios.append(scenario)
    return result


def to_scenario_files(paths: Iterable[Path], problems: list[str]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            problems.append(messages.to_missing_folder(path))
    return files


def get_scenario(path: Path, problems: list[str]) -> Scenario | None:
    return get_model(path, Scenario, problems, not_a_mapping=messages.to_not_a_mapping(path))
