"""Words the diagnosis shows people: collector notes, fallback notes, the diagnosis message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.chat.models import Fact, Message, Section, Tone
from bot.diagnosis.models import NOT_AN_INCIDENT, UNKNOWN, Diagnosis
from bot.runbooks.models import Playbook, to_filled_template

if TYPE_CHECKING:
    from bot.diagnosis.collectors.base import CollectorError

SYSTEM_LABELS = {"airflow": "Airflow", "spark": "The Spark History Server", "alert": "The alert"}


def build_collector_note(error: CollectorError) -> str:
    """One sentence saying which evidence is missing and why."""
    system = SYSTEM_LABELS.get(error.system, error.system)
    match error.kind:
        case "timeout":
            return f"{system} did not answer in time; its evidence is missing."
        case "unreachable":
            return f"{system} could not be reached ({error.detail}); its evidence is missing."
        case "auth-refused":
            return f"{system} refused the bot's credentials ({error.detail}); check them."
        case "not-found":
            return f"{system} has nothing at {error.detail} (HTTP 404)."
        case "http-error":
            return f"{system} answered {error.detail}; its evidence is missing."
        case "bad-response":
            return f"{system} sent an answer the bot could not read ({error.detail})."
        case "deadline":
            return f"{system} was still being read when the diagnosis deadline passed."
        case _:
            return f"{system} could not give its evidence ({error.kind} {error.detail})."


# The rule engine's summaries when it names no playbook.


def to_recovered() -> str:
    return "The log ends in success after its errors: a retry recovered, no incident class."


def to_no_failure() -> str:
    return "The evidence shows no failure: no error line, exception or failed state."


def to_no_confident_class(candidates: list[str]) -> str:
    if not candidates:
        return "The evidence shows a failure that matches no playbook; escalating."
    return (
        f"The evidence shows a failure, but no class is clear enough (candidates: "
        f"{', '.join(candidates)}); escalating instead of guessing."
    )


def to_collector_note(source: str, note: str) -> str:
    """The note a collector left, as the diagnosis lists it."""
    label = SYSTEM_LABELS.get(source, source)
    return note if note.startswith(label) else f"{label}: {note}"


# Why Claude's answer was not used; each ends up in `to_claude_fallback`.


def to_claude_fallback(reason: str) -> str:
    return f"Claude's diagnosis was not used ({reason}); this is the rule engine's diagnosis."


def to_claude_rate_limited() -> str:
    return "the Anthropic API is rate-limiting the bot, HTTP 429"


def to_claude_overloaded() -> str:
    return "the Anthropic API is overloaded, HTTP 529"


def to_claude_http_error(status: int) -> str:
    return f"the Anthropic API answered HTTP {status}"


def to_claude_unreachable() -> str:
    return "the Anthropic API could not be reached"


def to_claude_timeout(seconds: float) -> str:
    return f"no answer within {seconds:g} s"


def to_claude_too_many_tool_calls(limit: int) -> str:
    return f"it wanted more than {limit} tool calls"


def to_claude_too_many_tokens(limit: int) -> str:
    return f"it needed more than {limit} tokens"


def to_second_opinion_failed() -> str:
    return "an error in the bot"


def to_claude_no_answer() -> str:
    return "it ended without a structured diagnosis"


def to_rejected_schema(fields: str) -> str:
    return f"its answer did not fit the schema: {fields}"


def to_rejected_class(failure_class: str) -> str:
    return f"it named the class {failure_class!r}, which is not in the taxonomy"


def to_rejected_playbook(playbook_id: str | None) -> str:
    if playbook_id is None:
        return "it named no playbook and the catalogue has none for its class"
    return f"it named the playbook {playbook_id!r}, which is not in the catalogue"


def to_rejected_mismatch(playbook_id: str, failure_class: str) -> str:
    return f"its playbook {playbook_id!r} is not for the class {failure_class!r}"


def to_rejected_quote(quote: str) -> str:
    shown = quote if len(quote) <= 80 else quote[:77] + "..."
    return f"its quote {shown!r} does not appear in the evidence"


def to_rejected_no_quote() -> str:
    return "it quoted no evidence for its class"


def to_collector_failed(source: str) -> str:
    label = SYSTEM_LABELS.get(source, source)
    return f"{label} evidence could not be gathered because of an error in the bot."


# The diagnosis as posted in the incident's thread.

ENGINE_LABELS = {"rules": "rule engine", "claude": "Claude (checked against the evidence)"}
MAX_SHOWN_LINES = 6


def build_diagnosis_message(diagnosis: Diagnosis, playbook: Playbook | None) -> Message:
    """The diagnosis reply: class, confidence, evidence, playbook, proposed steps, rivals.

    The steps are shown, not run: running one needs an approval.
    """
    sections = [Section(text=diagnosis.summary)]
    if diagnosis.evidence_lines:
        sections.append(
            Section(title="Evidence", text=to_evidence_text(diagnosis), preformatted=True)
        )
    if playbook is not None and playbook.checks:
        checks = [f"• {to_filled_template(check, diagnosis.values)}" for check in playbook.checks]
        sections.append(Section(title="What to check", text="\n".join(checks)))
    if playbook is not None and playbook.remediation:
        sections.append(
            Section(title="Proposed steps (not run yet)", text=to_steps_text(playbook, diagnosis))
        )
    if diagnosis.alternatives:
        ruled_out = ", ".join(
            f"{item.failure_class} ({item.score:.2f})" for item in diagnosis.alternatives
        )
        sections.append(Section(title="Ruled out", text=ruled_out))

    return Message(
        text=f"{to_diagnosis_header(diagnosis)}: {diagnosis.summary}",
        header=to_diagnosis_header(diagnosis),
        tone=to_diagnosis_tone(diagnosis),
        facts=to_diagnosis_facts(diagnosis, playbook),
        sections=sections,
        context=[*to_escalation_context(diagnosis, playbook), *diagnosis.notes],
    )


def to_diagnosis_header(diagnosis: Diagnosis) -> str:
    if diagnosis.failure_class == UNKNOWN:
        return "Diagnosis: unknown cause, escalating"
    if diagnosis.failure_class == NOT_AN_INCIDENT:
        return "Diagnosis: no failure found"
    return f"Diagnosis: {diagnosis.failure_class}"


def to_diagnosis_tone(diagnosis: Diagnosis) -> Tone:
    if diagnosis.failure_class == UNKNOWN:
        return Tone.WARNING
    if diagnosis.failure_class == NOT_AN_INCIDENT:
        return Tone.GOOD
    return Tone.DANGER


def to_diagnosis_facts(diagnosis: Diagnosis, playbook: Playbook | None) -> list[Fact]:
    facts = [
        Fact(label="Class", value=diagnosis.failure_class),
        Fact(label="Confidence", value=f"{diagnosis.confidence:.0%}"),
        Fact(label="Diagnosed by", value=ENGINE_LABELS.get(diagnosis.engine, diagnosis.engine)),
    ]
    if playbook is not None:
        facts.append(Fact(label="Playbook", value=f"{playbook.title} ({playbook.id})"))
    return facts


def to_evidence_text(diagnosis: Diagnosis) -> str:
    return "\n".join(
        f"{line.source}:{line.line_number}  {line.text}"
        for line in diagnosis.evidence_lines[:MAX_SHOWN_LINES]
    )


def to_steps_text(playbook: Playbook, diagnosis: Diagnosis) -> str:
    return "\n".join(
        f"{number}. {to_filled_template(step.title, diagnosis.values)} "
        f"(risk {step.risk}{', dry run first' if step.dry_run else ''})"
        for number, step in enumerate(playbook.remediation, start=1)
    )


def to_escalation_context(diagnosis: Diagnosis, playbook: Playbook | None) -> list[str]:
    if diagnosis.failure_class == UNKNOWN:
        return ["No playbook fits well enough: a person needs to look."]
    if playbook is None:
        return []
    escalation = playbook.escalation
    return [f"Escalates to {escalation.team} after {escalation.after_minutes} min without a fix."]
