"""The ticket tracker on Jira, through the `jira` client library run in a worker thread.

Jira Cloud is reached with an email and API token on REST v3, whose descriptions and comments
are Atlassian Document Format; Server and Data Center with a personal access token (or a user
name and password) on REST v2, which takes wiki markup.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr

from bot.chat.models import Message
from bot.incidents.models import utcnow
from bot.tickets.jira_format import to_adf, to_plain_text, to_wiki
from bot.tickets.models import PROPERTY, NewTicket, TicketComment, TicketRef, to_incident_label
from bot.tickets.port import TicketRejected, TrackerError, TrackerUnavailable

logger = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")
Deployment = Literal["auto", "cloud", "server"]

# These say "not now" rather than "never": credentials and permissions get fixed, a 404 is
# often a permission in disguise, 409 is a conflict that clears, 429 is rate limiting.
_TRANSIENT_STATUSES = frozenset({401, 403, 404, 409, 429})
# Refused before Jira did anything; any other 5xx may come after the work was done.
_NOT_APPLIED_STATUSES = _TRANSIENT_STATUSES | {503}
_ERROR_TEXT_LIMIT = 300


class JiraTracker:
    """A TicketTracker over Jira Cloud or Server; connects on first use.

    tracker = JiraTracker(url="https://acme.atlassian.net", email="bot@acme.com",
                          token=SecretStr("..."))
    ref = await tracker.create(ticket)
    """

    def __init__(
        self,
        *,
        url: str,
        token: SecretStr,
        email: str = "",
        deployment: Deployment = "auto",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.deployment = deployment
        self.is_cloud: bool | None = None
        self._email = email
        self._token = token
        self._timeout = timeout_seconds
        self._client: JIRA | None = None
        self._connecting = threading.Lock()

    async def get_identity(self) -> frozenset[str]:
        raw = await self._call("read its own account", "myself", None, lambda c: c.myself())
        return frozenset(str(raw[name]) for name in ("accountId", "name", "key") if raw.get(name))

    async def find_by_incident(self, incident_id: str) -> TicketRef | None:
        jql = f'labels = "{to_incident_label(incident_id)}" ORDER BY created ASC'
        found = await self._call(
            "search for the incident's issue",
            "search_issues",
            None,
            lambda c: c.search_issues(jql, maxResults=1, fields="labels", json_result=True),
        )
        issues = found.get("issues") or []
        return TicketRef(key=issues[0]["key"], id=str(issues[0]["id"])) if issues else None

    async def create(self, ticket: NewTicket) -> TicketRef:
        issue = await self._call(
            "create the issue",
            "create_issue",
            None,
            lambda c: c.create_issue(fields=self._to_fields(ticket), prefetch=False),
        )
        ref = TicketRef(key=issue.key, id=str(issue.id))
        await self._tag(ref, ticket.incident_id)
        return ref

    async def _tag(self, ref: TicketRef, incident_id: str) -> None:
        # Known limit: the property cannot ride in the create request through this client,
        # so it is a second call; the label, which can, is what finds the issue again.
        value = {"incident": incident_id, "at": utcnow().isoformat()}
        try:
            await self._call(
                "set the incident property",
                "add_issue_property",
                ref.key,
                lambda c: c.add_issue_property(ref.key, PROPERTY, value),
            )
        except TrackerError:
            logger.warning("issue %s has its label but not its property", ref.key)

    async def comment(self, key: str, comment: TicketComment) -> str:
        created = await self._call(
            "comment", "add_comment", key, lambda c: c.add_comment(key, self._to_body(comment))
        )
        return str(created.id)

    async def has_comment(self, key: str, marker: str) -> bool:
        # Known limit: only the first page of comments is read (5,000 on Cloud), which is
        # where a bot comment lands on any incident issue short of thousands of comments.
        comments = await self._call("read comments", "comments", key, lambda c: c.comments(key))
        return any(marker in to_plain_text(comment.raw.get("body")) for comment in comments)

    async def transition(self, key: str, name: str) -> str | None:
        offered = await self._call(
            f"move the issue ({name})", "transitions", key, lambda c: c.transitions(key)
        )
        chosen = to_transition(offered, name)
        if chosen is None:
            logger.info("issue %s offers no transition %r; its status stays", key, name)
            return None
        await self._call(
            f"move the issue ({name})",
            "transition_issue",
            key,
            lambda c: c.transition_issue(key, str(chosen["id"])),
        )
        return str(chosen.get("to", {}).get("name") or name)

    async def update(
        self, key: str, *, summary: str | None = None, description: Message | None = None
    ) -> None:
        fields: dict[str, Any] = {}
        if summary is not None:
            fields["summary"] = summary
        if description is not None:
            fields["description"] = self._to_document([description])
        issue = await self._call(
            "update the issue", "issue", key, lambda c: c.issue(key, fields="summary")
        )
        await self._call("update the issue", "update", key, lambda c: issue.update(fields=fields))

    def _to_fields(self, ticket: NewTicket) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": ticket.project},
            "issuetype": {"name": ticket.issue_type},
            "summary": ticket.summary,
            "description": self._to_document([ticket.description]),
            "labels": list(ticket.labels),
        }
        if ticket.priority:
            fields["priority"] = {"name": ticket.priority}
        return fields

    def _to_body(self, comment: TicketComment) -> Any:
        return self._to_document(comment.messages, footer=comment.marker)

    def _to_document(self, messages: Sequence[Message], footer: str | None = None) -> Any:
        # Called inside a thread after connecting, so the deployment is known.
        if self.is_cloud:
            return to_adf(messages, footer=footer)
        return to_wiki(messages, footer=footer)

    async def _call(
        self, operation: str, method: str, key: str | None, work: Callable[[JIRA], ResultT]
    ) -> ResultT:
        return await asyncio.to_thread(self._run, operation, method, key, work)

    def _run(
        self, operation: str, method: str, key: str | None, work: Callable[[JIRA], ResultT]
    ) -> ResultT:
        client = self._client or self._connect(operation)
        return _timed(operation, method, key, lambda: work(client))

    def _connect(self, operation: str) -> JIRA:
        with self._connecting:
            if self._client is not None:
                return self._client
            cloud = self.deployment == "cloud"
            client = _timed(operation, "server_info", None, lambda: self._build(cloud=cloud))
            if self.deployment == "auto" and client.deploymentType == "Cloud":
                cloud = True
                client = _timed(operation, "server_info", None, lambda: self._build(cloud=True))
            self.is_cloud = cloud
            self._client = client
            logger.info("jira connected: %s, %s", self.url, "cloud" if cloud else "server")
            return client

    def _build(self, *, cloud: bool) -> JIRA:
        token = self._token.get_secret_value()
        auth: dict[str, Any] = (
            {"basic_auth": (self._email, token)} if self._email else {"token_auth": token}
        )
        # max_retries=0: the client's own retry sleeps in this thread (doubling Retry-After);
        # the ticket sync retries instead, holding no worker while it waits.
        return JIRA(
            server=self.url,
            options={"rest_api_version": "3" if cloud else "2"},
            max_retries=0,
            timeout=self._timeout,
            **auth,
        )


def to_transition(offered: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The transition called `name`, else the one leading to a status called `name`."""
    wanted = name.casefold()
    by_name = [t for t in offered if str(t.get("name", "")).casefold() == wanted]
    by_status = [t for t in offered if str(t.get("to", {}).get("name", "")).casefold() == wanted]
    chosen = by_name or by_status
    return chosen[0] if chosen else None


def _timed(operation: str, method: str, key: str | None, work: Callable[[], ResultT]) -> ResultT:
    """Run one Jira call, log it, and turn its failure into a TrackerError."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return work()
    except JIRAError as exc:
        outcome = f"HTTP {exc.status_code}" if exc.status_code else "error"
        raise to_tracker_error(operation, exc) from exc
    except requests.RequestException as exc:
        outcome = type(exc).__name__
        # A refused or timed-out connection sent nothing; a read timeout may follow the work.
        sent = not isinstance(exc, requests.ConnectionError)
        raise TrackerUnavailable(operation, outcome, may_have_applied=sent) from exc
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "jira %s %s: %s in %.0f ms",
            method,
            key or "-",
            outcome,
            elapsed_ms,
            extra={"issue_key": key, "outcome": outcome, "duration_ms": round(elapsed_ms)},
        )


def to_tracker_error(operation: str, exc: JIRAError) -> TrackerError:
    """Sort a Jira error into worth-retrying and refused-for-good."""
    status = exc.status_code
    text = (exc.text or f"HTTP {status}")[:_ERROR_TEXT_LIMIT]
    if status is None or status >= 500 or status in _TRANSIENT_STATUSES:
        retry_after = _to_retry_after(exc.response) if exc.response is not None else None
        applied = status not in _NOT_APPLIED_STATUSES
        return TrackerUnavailable(
            operation, text, retry_after=retry_after, may_have_applied=applied
        )
    return TicketRejected(operation, text, status=status)


def _to_retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds, from either of its forms (RFC 9110, section 10.2.3)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None
