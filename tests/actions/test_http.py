"""The HTTP executor against a local internal-endpoint stand-in."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from bot.actions.http import HttpExecutor, to_secrets
from bot.actions.models import ActionError, ActionRefused
from bot.errors import ConfigError
from bot.runbooks.models import HttpCall
from tests.actions.conftest import ROTATION_TOKEN, FakeEndpoint, build_ctx


def build_call(url: str, **params: object) -> HttpCall:
    document = {"method": "POST", "url": url, "body": {"conn_id": "s3_raw"}, **params}
    return HttpCall.model_validate({"kind": "http.call", "params": document})


def build_executor(http: httpx.AsyncClient) -> HttpExecutor:
    secrets = {"rotation-token": SecretStr(ROTATION_TOKEN)}
    return HttpExecutor(client=http, allowed_hosts={"127.0.0.1"}, secrets=secrets)


async def test_call_sends_body_and_named_secret_header(
    endpoint: tuple[FakeEndpoint, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = endpoint
    action = build_call(f"{base_url}/rotate", headers={"Authorization": "secret:rotation-token"})

    result = await build_executor(http).execute(action, build_ctx())

    [request] = fake.requests
    assert request.json == {"conn_id": "s3_raw"}
    assert request.headers["authorization"] == ROTATION_TOKEN
    assert result.data["status"] == 202


async def test_preview_names_secret_headers_without_their_values_and_sends_nothing(
    endpoint: tuple[FakeEndpoint, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = endpoint
    action = build_call(f"{base_url}/rotate", headers={"Authorization": "secret:rotation-token"})

    preview = await build_executor(http).preview(action, build_ctx())

    assert fake.requests == []
    assert "Authorization" in preview.summary
    assert ROTATION_TOKEN not in preview.model_dump_json()


async def test_secret_header_value_never_reaches_the_log(
    endpoint: tuple[FakeEndpoint, str],
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, base_url = endpoint
    action = build_call(f"{base_url}/rotate", headers={"Authorization": "secret:rotation-token"})

    with caplog.at_level(logging.DEBUG):
        await build_executor(http).execute(action, build_ctx())

    assert "rotation-secret" not in caplog.text


@pytest.mark.parametrize(
    "url", ["http://evil.example.com/rotate", "https://127.0.0.1.evil.example.com/rotate"]
)
async def test_host_not_on_the_allow_list_is_refused_before_any_request(
    http: httpx.AsyncClient, url: str
) -> None:
    executor = build_executor(http)

    with pytest.raises(ActionRefused, match="not on the list"):
        await executor.preview(build_call(url), build_ctx())
    with pytest.raises(ActionRefused, match="not on the list"):
        await executor.execute(build_call(url), build_ctx())


async def test_unknown_secret_name_is_refused(
    endpoint: tuple[FakeEndpoint, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = endpoint
    action = build_call(f"{base_url}/rotate", headers={"Authorization": "secret:missing"})

    with pytest.raises(ActionRefused, match="missing"):
        await build_executor(http).execute(action, build_ctx())
    assert fake.requests == []


async def test_unexpected_status_is_an_action_error(
    endpoint: tuple[FakeEndpoint, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = endpoint
    fake.status = 500

    with pytest.raises(ActionError, match="500"):
        await build_executor(http).execute(build_call(f"{base_url}/rotate"), build_ctx())


@pytest.mark.parametrize("setting", ["not json", '["a list"]'])
def test_malformed_secrets_setting_is_a_config_error(setting: str) -> None:
    with pytest.raises(ConfigError, match="ACTION_HTTP_SECRETS"):
        to_secrets(SecretStr(setting))
