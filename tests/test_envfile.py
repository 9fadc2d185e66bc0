from pathlib import Path

import pytest

from bot.envfile import render_env_example
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_matches_the_settings_model():
    committed = (ROOT / ".env.example").read_text()
    assert committed == render_env_example(), (
        ".env.example is out of date: run `incident-bot config env-example`"
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_description(name):
    assert Settings.model_fields[name].description


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1
