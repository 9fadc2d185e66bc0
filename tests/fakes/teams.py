"""A local Bot Connector, a Bot Framework key server, and signed activities for Teams tests.

    with serve_teams() as teams:
        chat = TeamsChat(http, service_url=teams.service_url, get_token=teams.get_token, ...)
        ...
        [post] = teams.calls_to("send")

The connector answers the REST calls the bot makes (create a conversation, send, reply to and
update an activity) over real HTTP, records them, and refuses any token that is not
JWT-shaped. The key server publishes OpenID metadata and a JWKS for a throw-away RSA key;
`sign_token` signs inbound tokens with it the way the Bot Framework does
(https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
Both run in a thread of their own: the Teams SDK fetches keys with a blocking call.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.chaos.standins.server import RecordedRequest, StandIn, serve_app

APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001"
TENANT_ID = "00000000-aaaa-4bbb-8ccc-0000000000f0"
ISSUER = "https://api.botframework.com"
KEY_ID = "test-key"
OPENID_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


class BotConnector(StandIn):
    """Records the bot's calls; route names are create_conversation, send, reply and update."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1_700_000_000_001)
        prefix = "/v3/conversations"
        self.routes = [
            self.to_route(prefix, "create_conversation", self._create, ("POST",)),
            self.to_route(f"{prefix}/{{conversation}}/activities", "send", self._send, ("POST",)),
            self.to_route(
                f"{prefix}/{{conversation}}/activities/{{activity}}", "reply", self._send, ("POST",)
            ),
            self.to_route(
                f"{prefix}/{{conversation}}/activities/{{activity}}",
                "update",
                self._update,
                ("PUT",),
            ),
        ]

    def calls_to(self, route: str) -> list[RecordedRequest]:
        """Requests that reached `route` and were answered (faulted ones included)."""
        return [request for request in self.requests if _to_route_name(request) == route]

    async def _create(self, request: Request) -> Response:
        return self._authorized(request) or JSONResponse({"id": f"a:personal-{next(self._ids)}"})

    async def _send(self, request: Request) -> Response:
        return self._authorized(request) or JSONResponse({"id": str(next(self._ids))}, 201)

    async def _update(self, request: Request) -> Response:
        return self._authorized(request) or JSONResponse({"id": request.path_params["activity"]})

    def _authorized(self, request: Request) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token.count(".") != 2:
            return JSONResponse({"error": {"code": "Unauthorized"}}, 401)
        return None


@dataclass
class KeyServer:
    """OpenID metadata and the JWKS of one throw-away RSA key, and a signer for tokens."""

    private_key: rsa.RSAPrivateKey
    base_url: str = ""

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.base_url}{OPENID_PATH}"

    def build_app(self) -> Starlette:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        keys = {"keys": [jwk | {"kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

        async def metadata(request: Request) -> Response:
            return JSONResponse({"issuer": ISSUER, "jwks_uri": f"{self.base_url}{KEYS_PATH}"})

        async def jwks(request: Request) -> Response:
            return JSONResponse(keys)

        app = Starlette()
        app.add_route(OPENID_PATH, metadata)
        app.add_route(KEYS_PATH, jwks)
        return app

    def sign_token(self, **claims: Any) -> str:
        """A Bot Framework token for APP_ID; `claims` override or add (serviceurl, aud...)."""
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": APP_ID, "iat": now, "nbf": now, "exp": now + 600}
        return jwt.encode(payload | claims, self.private_key, "RS256", headers={"kid": KEY_ID})


@dataclass
class TeamsStandIn:
    connector: BotConnector
    keys: KeyServer
    service_url: str

    def get_token(self) -> str:
        """An outbound Bot Connector token: JWT-shaped, as the SDK insists."""
        return self.keys.sign_token(aud=ISSUER, appid=APP_ID)

    async def get_token_async(self) -> str:
        return self.get_token()

    def calls_to(self, route: str) -> list[RecordedRequest]:
        return self.connector.calls_to(route)


@contextmanager
def serve_teams() -> Iterator[TeamsStandIn]:
    """Serve a Bot Connector and a key server, each on its own loopback port and thread."""
    connector = BotConnector()
    keys = KeyServer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with serve_app(Starlette(routes=connector.routes)) as service_url:
        with serve_app(keys.build_app()) as key_url:
            keys.base_url = key_url
            yield TeamsStandIn(connector=connector, keys=keys, service_url=f"{service_url}/")


def build_activity(
    kind: str,
    *,
    service_url: str,
    user: str,
    conversation: str,
    **fields: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it to the bot: `message` or `invoke`."""
    return {
        "type": kind,
        "id": f"f:{next(_activity_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-12-03T10:00:00.000Z",
        "from": {"id": f"29:{user}", "aadObjectId": user, "name": "Test User"},
        "recipient": {"id": f"28:{APP_ID}", "name": "incident-bot"},
        "conversation": {"id": conversation, "conversationType": "channel", "tenantId": TENANT_ID},
        "channelData": {"tenant": {"id": TENANT_ID}},
        **fields,
    }


def build_click(
    verb: str, value: str, *, service_url: str, user: str, conversation: str, card_id: str
) -> dict[str, Any]:
    """The invoke Teams sends when someone clicks an Action.Execute button on a card."""
    action = {"type": "Action.Execute", "verb": verb, "data": {"value": value}}
    return build_activity(
        "invoke",
        service_url=service_url,
        user=user,
        conversation=conversation,
        name="adaptiveCard/action",
        replyToId=card_id,
        value={"action": action, "trigger": "manual"},
    )


def build_mention(text: str, *, service_url: str, user: str, conversation: str) -> dict[str, Any]:
    """A channel message that @mentions the bot: `<at>incident-bot</at> {text}`."""
    mention = {
        "type": "mention",
        "text": "<at>incident-bot</at>",
        "mentioned": {"id": f"28:{APP_ID}", "name": "incident-bot"},
    }
    return build_activity(
        "message",
        service_url=service_url,
        user=user,
        conversation=conversation,
        text=f"<at>incident-bot</at> {text}",
        textFormat="plain",
        entities=[mention],
    )


_activity_ids = itertools.count(1)


def _to_route_name(request: RecordedRequest) -> str:
    parts = request.path.strip("/").split("/")
    if len(parts) == 2:
        return "create_conversation"
    if len(parts) == 4:
        return "send"
    return "update" if request.method == "PUT" else "reply"
