"""`.env.example`, generated from the settings model so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.settings import Settings

HEADER = """\
# incident-bot settings. Generated from bot/settings.py by `incident-bot config env-example`;
# edit the descriptions there, not here. Every setting is optional: with none at all the bot
# runs on an embedded Redis with the local console.
"""


def render_env_example() -> str:
    blocks = [HEADER]
    for name, field in Settings.model_fields.items():
        blocks.append(f"# {field.description}\n{name.upper()}={_to_env_value(field.default)}\n")
    return "\n".join(blocks)


def _to_env_value(value: Any) -> str:
    if value is None or isinstance(value, SecretStr):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def write_env_example(path: Path) -> None:
    path.write_text(render_env_example())
