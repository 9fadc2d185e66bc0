import pytest

from bot.chaos.standins.slack import serve_slack
from bot.settings import Settings

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def slack():
    with serve_slack() as stand_in:
        yield stand_in


@pytest.fixture
def settings(slack):
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
    )
