"""Checking a language model's structured diagnosis before anyone sees it.

An answer is accepted only when its class is in the taxonomy (or `unknown`), its playbook
exists in the catalogue and belongs to that class, and every evidence quote appears
verbatim in the evidence the bot gathered. Anything else is rejected with a reason that the
fallback note shows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from bot.diagnosis import messages
from bot.diagnosis.models import (
    FAILURE_CLASSES,
    UNKNOWN,
    Alternative,
    Diagnosis,
    Evidence,
    EvidenceLine,
)
from bot.errors import BotError
from bot.runbooks.catalogue import Catalogue

# Shorter quotes ("Error", "failed") would match nearly any log and prove nothing.
MIN_QUOTE_CHARS = 12
MAX_SUMMARY_CHARS = 800


class AnswerRejected(BotError):
    """The model's answer failed a check; `reason` is shown in the fallback note."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SubmittedAlternative(BaseModel):
    failure_class: str
    score: float = Field(ge=0, le=1)


class SubmittedDiagnosis(BaseModel):
    """The `submit_diagnosis` tool input, as the schema in bot.diagnosis.tools describes it."""

    failure_class: str
    playbook_id: str | None = None
    confidence: float = Field(ge=0, le=1)
    summary: str = Field(min_length=1)
    evidence_quotes: list[str] = Field(default_factory=list)
    alternatives: list[SubmittedAlternative] = Field(default_factory=list)


def to_checked_diagnosis(
    tool_input: dict[str, Any],
    *,
    catalogue: Catalogue,
    evidence: list[Evidence],
    rules: Diagnosis,
    values: dict[str, str] | None = None,
) -> Diagnosis:
    """The model's answer as a Diagnosis; raises AnswerRejected when a check fails.

    `values` (the alert's placeholder values) fill the playbook's texts under the rules' own.
    """
    try:
        answer = SubmittedDiagnosis.model_validate(tool_input)
    except ValidationError as exc:
        fields = ", ".join(sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]}))
        raise AnswerRejected(messages.to_rejected_schema(fields or "the answer")) from exc

    playbook_id = to_checked_playbook_id(answer, catalogue, platform=rules.platform)
    evidence_lines = [to_evidence_line(quote, evidence) for quote in answer.evidence_quotes]
    if answer.failure_class != UNKNOWN and not evidence_lines:
        raise AnswerRejected(messages.to_rejected_no_quote())

    return Diagnosis(
        failure_class=answer.failure_class,
        playbook_id=playbook_id,
        confidence=round(answer.confidence, 3),
        summary=answer.summary.strip()[:MAX_SUMMARY_CHARS],
        evidence_lines=evidence_lines,
        alternatives=[
            Alternative(failure_class=item.failure_class, score=round(item.score, 3))
            for item in answer.alternatives
            if item.failure_class in FAILURE_CLASSES and item.failure_class != answer.failure_class
        ],
        notes=rules.notes,
        engine="claude",
        values={**(values or {}), **rules.values},
        platform=rules.platform,
    )


def to_checked_playbook_id(
    answer: SubmittedDiagnosis, catalogue: Catalogue, *, platform: str | None
) -> str | None:
    """The answer's playbook, or the catalogue's for its class when it named none."""
    if answer.failure_class == UNKNOWN:
        return None
    if answer.failure_class not in FAILURE_CLASSES:
        raise AnswerRejected(messages.to_rejected_class(answer.failure_class))
    if answer.playbook_id is None:
        fallback = catalogue.for_class(answer.failure_class, platform)
        if fallback is None:
            raise AnswerRejected(messages.to_rejected_playbook(None))
        return fallback.id
    playbook = catalogue.get(answer.playbook_id)
    if playbook is None:
        raise AnswerRejected(messages.to_rejected_playbook(answer.playbook_id))
    if playbook.failure_class != answer.failure_class:
        raise AnswerRejected(
            messages.to_rejected_mismatch(answer.playbook_id, answer.failure_class)
        )
    return playbook.id


def to_evidence_line(quote: str, evidence: list[Evidence]) -> EvidenceLine:
    """Where a quote sits in the evidence; raises AnswerRejected when it is not verbatim there."""
    text = quote.strip()
    if len(text) < MIN_QUOTE_CHARS:
        raise AnswerRejected(messages.to_rejected_quote(quote))
    for item in evidence:
        position = item.text.find(text)
        if position >= 0:
            line_number = item.text.count("\n", 0, position) + 1
            return EvidenceLine(source=item.source, line_number=line_number, text=text)
    raise AnswerRejected(messages.to_rejected_quote(quote))
