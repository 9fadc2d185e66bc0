"""Read playbooks from folders of YAML files and validate every field.

The built-in catalogue is the repository's top-level `runbooks/` folder. The package ships
the same files as `bot/runbooks/builtin/`, a symbolic link to that folder in the source tree
that the wheel build copies as package data, so an installed bot finds them as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.runbooks import messages
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.models import ACTION_KINDS, VERIFICATION_KINDS, Playbook
from bot.settings import Settings
from bot.yamlfiles import get_model

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
# Discriminator values pydantic inserts into error locations; a reader wants the field path.
UNION_TAGS = ACTION_KINDS | VERIFICATION_KINDS


@dataclass
class LoadResult:
    playbooks: list[Playbook] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def builtin_runbooks_dir() -> Path:
    """The folder of built-in playbooks: `<repo>/runbooks`, else the packaged copy."""
    source_tree = PACKAGE_DIR.parents[1] / "runbooks"
    if source_tree.is_dir() and any(source_tree.glob("*.yaml")):
        return source_tree
    return PACKAGE_DIR / "builtin"


def get_runbook_dirs(settings: Settings) -> list[Path]:
    """The built-in folder followed by the extra folders the settings name."""
    extra = [Path(item.strip()) for item in settings.runbooks_dirs.split(",") if item.strip()]
    return [builtin_runbooks_dir(), *extra]


def load_catalogue(*paths: Path) -> Catalogue:
    """Load and validate every playbook under the given folders (or files).

    Raises ConfigError listing each problem as `file: field: message`.
    """
    result = get_playbooks(*paths)
    if result.problems:
        raise ConfigError(messages.to_load_failed(result.problems))
    logger.info("runbooks loaded: %d playbooks from %d folders", len(result.playbooks), len(paths))
    return Catalogue(result.playbooks)


def get_playbooks(*paths: Path) -> LoadResult:
    """Every valid playbook and every problem found, without raising; used by lint."""
    result = LoadResult(folders=list(paths))
    first_seen: dict[str, Path] = {}
    for path in paths:
        files = to_playbook_files(path, result.problems)
        for file in files:
            playbook = get_playbook(file, result.problems)
            if playbook is None:
                continue
            shown = to_shown_path(file)
            if playbook.id in first_seen:
                result.problems.append(
                    messages.to_duplicate_id(shown, playbook.id, first_seen[playbook.id])
                )
                continue
            first_seen[playbook.id] = shown
            result.playbooks.append(playbook)
    return result


def to_playbook_files(path: Path, problems: list[str]) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        problems.append(messages.to_missing_folder(path))
        return []
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    if not files:
        problems.append(messages.to_no_playbooks(path))
    return files


def get_playbook(path: Path, problems: list[str]) -> Playbook | None:
    shown = to_shown_path(path)
    return get_model(
        path,
        Playbook,
        problems,
        not_a_mapping=messages.to_not_a_mapping(shown),
        shown=shown,
        hidden_locations=UNION_TAGS,
    )


def to_shown_path(path: Path) -> Path:
    """The path relative to the working folder when it lies below it, as people typed it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path
