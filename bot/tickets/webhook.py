"""Jira's webhook: who may call it, and the changes its payloads describe.

Payloads: https://developer.atlassian.com/cloud/jira/platform/webhooks/ (the same shapes
on Server and Data Center, where comment bodies are wiki markup rather than ADF).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from bot.alerts.payloads import get_header, is_same_secret, to_model, to_object
from bot.errors import AuthenticationFailed, BadRequest, Forbidden
from bot.tickets import messages
from bot.tickets.jira_format import to_plain_text
from bot.tickets.models import ChangeKind, JiraChange

SECRET_HEADER = "X-Incident-Bot-Secret"  # noqa: S105 (a header name, not a secret)
# Cloud admin webhooks saved with a secret sign the raw body: `sha256=<hex HMAC>`.
SIGNATURE_HEADER = "X-Hub-Signature"
COMMENT_EVENT = "comment_created"
ISSUE_EVENT = "jira:issue_updated"


def authenticate(
    headers: Mapping[str, str], query: Mapping[str, str], body: bytes, *, secret: SecretStr
) -> None:
    """Accept a signature, a secret header or `?secret=`. Raises AuthenticationFailed."""
    if not secret.get_secret_value():
        raise Forbidden(messages.to_webhook_off())
    if (signature := get_header(headers, SIGNATURE_HEADER)) is not None:
        key = secret.get_secret_value().encode()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise AuthenticationFailed(messages.to_wrong_signature(SIGNATURE_HEADER))
        return
    given = get_header(headers, SECRET_HEADER) or query.get("secret")
    if not given:
        raise AuthenticationFailed(messages.to_missing_secret(SECRET_HEADER))
    if not is_same_secret(given, secret):
        raise AuthenticationFailed(messages.to_wrong_secret())


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class JiraUser(_Loose):
    accountId: str | None = None
    name: str | None = None
    key: str | None = None
    displayName: str | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(value for value in (self.accountId, self.name, self.key) if value)


class IssueFields(_Loose):
    labels: list[str] | None = None


class JiraIssue(_Loose):
    id: str | int | None = None
    key: str | None = None
    fields: IssueFields = IssueFields()


class JiraComment(_Loose):
    id: str | int
    body: Any = ""
    author: JiraUser | None = None


class ChangeItem(_Loose):
    field: str
    fromString: str | None = None
    toString: str | None = None


class Changelog(_Loose):
    id: str | int | None = None
    items: list[ChangeItem] = []


class JiraWebhook(_Loose):
    webhookEvent: str
    timestamp: int | None = None
    user: JiraUser | None = None
    issue: JiraIssue | None = None
    comment: JiraComment | None = None
    changelog: Changelog | None = None


def parse(body: bytes) -> list[JiraChange]:
    """The comments and status changes a payload carries. Raises BadRequest.

    Other events, and issue updates that change no status, carry none. A comment also
    raises `jira:issue_updated`; only `comment_created` is taken for it, so it shows once.
    """
    payload = to_model(JiraWebhook, to_object(body))
    if payload.webhookEvent == COMMENT_EVENT:
        return [_to_comment(payload)]
    if payload.webhookEvent == ISSUE_EVENT:
        return _to_status_changes(payload)
    return []


def _to_comment(payload: JiraWebhook) -> JiraChange:
    if payload.comment is None:
        raise BadRequest(messages.to_missing_part(COMMENT_EVENT, "a comment"))
    if payload.issue is None:
        raise BadRequest(messages.to_missing_part(COMMENT_EVENT, "an issue"))
    author = payload.comment.author or payload.user or JiraUser()
    return JiraChange(
        kind=ChangeKind.COMMENT,
        delivery_id=str(payload.comment.id),
        text=to_plain_text(payload.comment.body).strip(),
        **_to_issue_fields(payload.issue),
        **_to_author_fields(author),
    )


def _to_status_changes(payload: JiraWebhook) -> list[JiraChange]:
    if payload.issue is None:
        raise BadRequest(messages.to_missing_part(ISSUE_EVENT, "an issue"))
    changelog = payload.changelog or Changelog()
    author = payload.user or JiraUser()
    delivery = f"{payload.issue.key or payload.issue.id}:{changelog.id or payload.timestamp}"
    return [
        JiraChange(
            kind=ChangeKind.STATUS,
            delivery_id=f"{delivery}:{index}",
            from_status=item.fromString or "?",
            to_status=item.toString or "?",
            **_to_issue_fields(payload.issue),
            **_to_author_fields(author),
        )
        for index, item in enumerate(changelog.items)
        if item.field.lower() == "status"
    ]


def _to_issue_fields(issue: JiraIssue) -> dict[str, Any]:
    return {
        "issue_key": issue.key,
        "issue_id": None if issue.id is None else str(issue.id),
        "labels": tuple(issue.fields.labels or ()),
    }


def _to_author_fields(author: JiraUser) -> dict[str, Any]:
    name = author.displayName or author.name or "someone"
    return {"author_ids": author.ids, "author_name": name}
