"""Every word the ticket sync writes: issue texts, thread notes, webhook and CLI answers."""

from __future__ import annotations

import re

from bot.chat.models import Fact, Link, Message, Section
from bot.chat.port import ThreadRef
from bot.incidents.models import Event, Incident
from bot.tickets.models import DeadLetter, JiraChange

SUMMARY_LIMIT = 255  # Jira refuses longer summaries
_MARKER = re.compile(r"incident-bot · INC-\d+ · events? \d+")


def to_summary(incident: Incident) -> str:
    summary = f"{incident.id}: {incident.title}".replace("\n", " ")
    return summary if len(summary) <= SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 1] + "…"


def build_description(
    incident: Incident, *, diagnosis: Event | None, thread_url: str | None
) -> Message:
    """The issue's description: what happened, where it is discussed, and the diagnosis."""
    facts = [
        Fact(label="Severity", value=incident.severity.value),
        Fact(label="Source", value=incident.source),
        Fact(label="Opened", value=incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")),
        Fact(label="Fingerprint", value=incident.fingerprint),
    ]
    if incident.service:
        facts.append(Fact(label="Service", value=incident.service))
    if incident.team:
        facts.append(Fact(label="Team", value=incident.team))
    if incident.thread is not None:
        thread = incident.thread
        facts.append(Fact(label="Thread", value=f"{thread.platform} · {thread.channel}"))

    sections = [] if diagnosis is None else [build_diagnosis_section(diagnosis)]
    links = [Link(title="Incident thread", url=thread_url)] if thread_url else []
    return Message(
        text="incident-bot mirrors the incident's thread here as comments; comments written "
        "here, and status changes, appear in the thread.",
        header=f"{incident.id}: {incident.title}",
        facts=facts,
        sections=sections,
        links=links,
    )


def build_diagnosis_section(diagnosis: Event) -> Section:
    lines = [diagnosis.text] if diagnosis.text else []
    for label, name in (("Class", "failure_class"), ("Playbook", "playbook_id")):
        if diagnosis.data.get(name):
            lines.append(f"{label}: {diagnosis.data[name]}")
    if isinstance(confidence := diagnosis.data.get("confidence"), int | float):
        lines.append(f"Confidence: {confidence:.0%}")
    return Section(title="Diagnosis", text="\n".join(lines) or "Diagnosed.")


def to_comment_marker(incident_id: str, first: int, last: int) -> str:
    """The last line of a bot comment, naming the timeline events (1-based) it carries."""
    events = f"event {first}" if first == last else f"events {first}-{last}"
    return f"incident-bot · {incident_id} · {events}"


def is_bot_comment(text: str) -> bool:
    return _MARKER.search(text) is not None


def to_thread_url(thread: ThreadRef | None, *, base_url: str) -> str | None:
    """A link to the incident's thread, where the platform's ids are enough to build one."""
    if thread is None:
        return None
    if thread.platform == "console":
        return f"{base_url}/console"
    if thread.platform == "slack":
        # Slack permalinks are the channel id and the message ts without its dot.
        return f"https://slack.com/archives/{thread.channel}/p{thread.root_id.replace('.', '')}"
    return None


def to_jira_comment_note(change: JiraChange, *, key: str) -> str:
    return f"Comment on {key} in Jira:\n{change.text}"


def to_jira_status_note(change: JiraChange, *, key: str) -> str:
    return f"{key} moved from {change.from_status} to {change.to_status} in Jira."


def to_jira_actor(change: JiraChange) -> str:
    return f"{change.author_name} (Jira)"


def to_out_of_step_note(letter: DeadLetter) -> str:
    issue = letter.issue_key or "The Jira issue"
    return (
        f"{issue} is out of step with this thread: Jira refused to {letter.operation} "
        f"({letter.error}). Nothing is lost: once that is fixed, "
        f"`incident-bot outbox retry {letter.incident_id}` catches the ticket up."
    )


def to_bad_mapping(setting: str, pair: str, choices: list[str]) -> str:
    return f"{setting}: {pair!r} is not NAME=VALUE with NAME one of {', '.join(choices)}."


def to_webhook_off() -> str:
    return "The Jira webhook refuses every request until JIRA_WEBHOOK_SECRET is set."


def to_missing_secret(header: str) -> str:
    return f"Missing secret: add ?secret=... to the webhook URL or send the {header} header."


def to_wrong_secret() -> str:
    return "The secret does not match JIRA_WEBHOOK_SECRET."


def to_wrong_signature(header: str) -> str:
    return f"The {header} signature does not match the body and JIRA_WEBHOOK_SECRET."


def to_missing_part(event: str, part: str) -> str:
    return f"A {event} event needs {part}."


def to_no_dead_letters() -> str:
    return "No dead letters: every ticket is in step or catching up."


def to_no_dead_letter(incident_id: str) -> str:
    return f"No dead letter for {incident_id}."


def to_retried(incident_ids: list[str]) -> str:
    return f"Re-queued the ticket sync of {', '.join(incident_ids)}."


def to_missing_token() -> str:
    return (
        "JIRA_URL is set but JIRA_API_TOKEN is not: set a Cloud API token (with JIRA_EMAIL) "
        "or a Server/Data Center personal access token."
    )
