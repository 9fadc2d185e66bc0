"""A generic HTTP call to an internal endpoint, such as a credential-rotation service.

Only hosts on `ACTION_HTTP_ALLOWED_HOSTS` are called. A header value `secret:NAME` is sent
as the named secret from `ACTION_HTTP_SECRETS`; previews and results name headers, never
their values, and the call's log line carries the path only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from bot.actions import messages
from bot.actions.models import ActionContext, ActionError, ActionRefused, ActionResult, Preview
from bot.diagnosis.collectors.base import CollectorError
from bot.diagnosis.collectors.http import open_call
from bot.errors import ConfigError
from bot.runbooks.models import Action, HttpCall, HttpCallParams

SYSTEM = "action-http"
REFERENCE_PREFIX = "secret:"


def to_allowed_hosts(setting: str) -> frozenset[str]:
    return frozenset(host.strip().lower() for host in setting.split(",") if host.strip())


def to_secrets(setting: SecretStr) -> dict[str, SecretStr]:
    """The named secrets of ACTION_HTTP_SECRETS; raises ConfigError when it is not an object."""
    raw = setting.get_secret_value()
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("ACTION_HTTP_SECRETS is not JSON") from exc
    if not isinstance(document, dict):
        raise ConfigError("ACTION_HTTP_SECRETS must be a JSON object of names and values")
    return {str(name): SecretStr(str(value)) for name, value in document.items()}


def check_host(url: str, allowed_hosts: Iterable[str]) -> None:
    """Raises ActionRefused unless the URL's host is on the allow-list."""
    host = (urlsplit(url).hostname or "").lower()
    if host not in allowed_hosts:
        raise ActionRefused(messages.build_host_refusal(host or url))


class HttpExecutor:
    """Runs `http.call` actions; a rollback is another declared call."""

    kinds = frozenset({"http.call"})

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        allowed_hosts: Iterable[str],
        secrets: Mapping[str, SecretStr],
    ) -> None:
        self._client = client
        self._allowed_hosts = frozenset(allowed_hosts)
        self._secrets = dict(secrets)

    async def preview(self, action: Action, ctx: ActionContext) -> Preview:
        params = _to_params(action)
        check_host(params.url, self._allowed_hosts)
        self._to_headers(params)
        summary = messages.build_http_preview(params.method, params.url, sorted(params.headers))
        request = {
            "method": params.method,
            "url": params.url,
            "json": params.body,
            "headers": sorted(params.headers),
            "expected_status": params.expected_status,
        }
        return Preview(kind=action.kind, summary=summary, data={"request": request})

    async def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        params = _to_params(action)
        check_host(params.url, self._allowed_hosts)
        headers = self._to_headers(params)
        try:
            call = open_call(
                self._client,
                params.method,
                params.url,
                system=SYSTEM,
                json=params.body,
                headers=headers,
            )
            async with call as response:
                await response.aread()
        except CollectorError as exc:
            raise ActionError(
                messages.build_http_failure(params.method, params.url, exc.kind)
            ) from exc
        status = response.status_code
        if status not in params.expected_status:
            raise ActionError(messages.build_http_failure(params.method, params.url, status))
        return ActionResult(
            kind=action.kind,
            summary=messages.build_http_result(params.method, params.url, status),
            data={"method": params.method, "url": params.url, "status": status},
        )

    async def rollback(
        self, rollback_spec: Action, result: ActionResult, ctx: ActionContext
    ) -> ActionResult:
        return await self.execute(rollback_spec, ctx)

    def _to_headers(self, params: HttpCallParams) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in params.headers.items():
            if not value.startswith(REFERENCE_PREFIX):
                headers[name] = value
                continue
            secret = self._secrets.get(value.removeprefix(REFERENCE_PREFIX))
            if secret is None:
                raise ActionRefused(
                    messages.build_unknown_secret_refusal(value.removeprefix(REFERENCE_PREFIX))
                )
            headers[name] = secret.get_secret_value()
        return headers


def _to_params(action: Action) -> HttpCallParams:
    if not isinstance(action, HttpCall):
        raise ActionError(messages.build_unknown_kind_refusal(action.kind))
    return action.params
