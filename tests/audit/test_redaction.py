"""Secrets are masked by key name and by the look of the value, however deep they sit."""

import pytest
from pydantic import BaseModel, SecretStr

from bot.audit.redaction import REDACTED, is_secret_key, redact

SLACK_TOKEN = "xoxb-1234567890-abcdefghij"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "Password",
        "client_secret",
        "Authorization",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "accessToken",
        "aws_secret_access_key",
        "SLACK_SIGNING_SECRET",
        "private_key",
        "Set-Cookie",
    ],
)
def test_secret_key_names_are_recognised(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["max_tokens", "input_tokens", "incident_id", "author", "keyspace", "tokenizer"]
)
def test_ordinary_key_names_are_kept(key):
    assert not is_secret_key(key)


def test_nested_secret_keys_are_masked_in_dicts_and_lists():
    data = {
        "request": {"headers": {"Authorization": "anything", "Accept": "application/json"}},
        "attempts": [{"password": "hunter2", "user": "bot"}],
        "max_tokens": 1024,
    }

    assert redact(data) == {
        "request": {"headers": {"Authorization": REDACTED, "Accept": "application/json"}},
        "attempts": [{"password": REDACTED, "user": "bot"}],
        "max_tokens": 1024,
    }


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"posting with {SLACK_TOKEN} failed", SLACK_TOKEN),
        ("xoxp-9-user-token in a note", "xoxp-9-user-token"),
        ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("curl -H 'authorization: basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA=="),
        (f"InvalidAccessKeyId: {AWS_KEY_ID} does not exist", AWS_KEY_ID),
        (f"token expired: {JWT}", JWT),
    ],
)
def test_values_that_look_like_credentials_are_masked_inside_text(text, secret):
    masked = redact({"log": [text]})["log"][0]

    assert secret not in masked
    assert REDACTED in masked


def test_redact_leaves_its_input_untouched():
    data = {"nested": {"token": "abc"}}

    redact(data)

    assert data == {"nested": {"token": "abc"}}


def test_models_and_secret_fields_become_masked_json():
    class Credentials(BaseModel):
        user: str
        key: SecretStr

    masked = redact({"login": Credentials(user="bot", key=SecretStr("s3cr3t"))})

    assert masked == {"login": {"user": "bot", "key": "**********"}}
