import httpx
import pytest
from microsoft_teams.api import TokenCredentials
from microsoft_teams.apps.token_manager import TokenManager

from bot.chat.teams.adapter import TeamsChat, create_token_source
from tests.fakes.teams import APP_ID, TENANT_ID, serve_teams

CHANNEL = "19:data-incidents@thread.tacv2"


@pytest.fixture
def teams():
    with serve_teams() as stand_in:
        yield stand_in


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def chat(teams, http, sleeps):
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    # The SDK's own token manager, with a provider standing in for Entra's token endpoint.
    credentials = TokenCredentials(
        client_id=APP_ID, tenant_id=TENANT_ID, token=lambda scope, tenant: teams.get_token()
    )
    return TeamsChat(
        http,
        service_url=teams.service_url,
        get_token=create_token_source(TokenManager(credentials=credentials)),
        bot_id=APP_ID,
        tenant_id=TENANT_ID,
        conversations={"data-incidents": CHANNEL},
        sleep=record_sleep,
    )
