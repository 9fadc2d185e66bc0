"""Who may use the console: a token off loopback, same-origin POSTs, loopback host names.

On loopback the console needs no token, so two other checks stand in for it: a POST must
come from the console page (a custom header, which another site cannot send without a CORS
grant we never give), and the Host header must be a loopback name, which defeats DNS
rebinding (https://en.wikipedia.org/wiki/DNS_rebinding).
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from bot.chat.console import messages
from bot.settings import LOOPBACK_HOSTS, Settings

logger = logging.getLogger(__name__)

COOKIE_NAME = "incident_bot_console"
TOKEN_HEADER = "X-Console-Token"  # noqa: S105 (a header name, not a secret)
TOKEN_QUERY = "token"  # noqa: S105 (a parameter name, not a secret)
PAGE_HEADER = "X-Console-Request"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleGuard:
    """A router dependency that refuses requests the console must not answer."""

    def __init__(self, settings: Settings, *, cookie_path: str) -> None:
        self._token = settings.console_token.get_secret_value().encode()
        self._needs_token = not settings.is_loopback
        self._hosts = _to_allowed_hosts(settings) if settings.is_loopback else None
        self._cookie_path = cookie_path

    async def __call__(self, request: Request) -> None:
        """Raises HTTPException 401 for a missing or wrong token, 403 for a foreign request."""
        self._check_host(request)
        if self._needs_token:
            self._check_token(request)
        if request.method not in _SAFE_METHODS:
            self._check_same_origin(request)

    def has_query_token(self, request: Request) -> bool:
        return self._needs_token and TOKEN_QUERY in request.query_params

    def set_cookie(self, response: Response, request: Request) -> None:
        """Keep the token in a cookie the page's scripts cannot read."""
        response.set_cookie(
            COOKIE_NAME,
            self._token.decode(),
            path=self._cookie_path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def _check_host(self, request: Request) -> None:
        host = request.url.hostname or ""
        if self._hosts is not None and host not in self._hosts:
            logger.info("console refused host %r", host)
            raise HTTPException(403, detail=messages.to_host_refused(host))

    def _check_token(self, request: Request) -> None:
        given = (
            request.headers.get(TOKEN_HEADER)
            or request.query_params.get(TOKEN_QUERY)
            or request.cookies.get(COOKIE_NAME)
        )
        if not given or not self._token:
            raise HTTPException(401, detail=messages.to_token_missing())
        if not hmac.compare_digest(given.encode(), self._token):
            logger.info("console refused a wrong token from %s", _to_client(request))
            raise HTTPException(401, detail=messages.to_token_wrong())

    def _check_same_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        fetch_site = request.headers.get("sec-fetch-site")
        is_foreign = (
            PAGE_HEADER not in request.headers
            or (origin is not None and urlsplit(origin).netloc != request.url.netloc)
            or (fetch_site is not None and fetch_site != "same-origin")
        )
        if is_foreign:
            logger.info("console refused a cross-site %s from %s", request.url.path, origin)
            raise HTTPException(403, detail=messages.to_cross_site_refused())


def _to_allowed_hosts(settings: Settings) -> frozenset[str]:
    # A reverse proxy on this machine may forward its own public name.
    public_host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return LOOPBACK_HOSTS | {public_host} if public_host else LOOPBACK_HOSTS


def _to_client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
