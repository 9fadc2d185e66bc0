"""Claude as a second opinion: the Anthropic SDK with read-only tools and hard limits.

Claude sees the alert, the gathered evidence and the rule engine's view, may call the tools
in bot.diagnosis.tools, and must answer through `submit_diagnosis`. The answer is checked
(bot.diagnosis.answer). On a rate limit, an overload, a timeout, any API error, a limit
reached or a rejected answer, the rule engine's diagnosis stands, with a note saying why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import (
    Message,
    MessageParam,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
)

from bot.alerts.models import Alert
from bot.diagnosis import messages
from bot.diagnosis.answer import AnswerRejected, to_checked_diagnosis
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.diagnosis.collectors.alert import to_alert_context
from bot.diagnosis.collectors.http import CallTiming, add_call, get_incident_id
from bot.diagnosis.collectors.spark import SparkApi
from bot.diagnosis.models import FAILURE_CLASSES, Diagnosis, Evidence
from bot.diagnosis.tools import SUBMIT_DIAGNOSIS, DiagnosisTools, ToolResult, ToolSpec
from bot.errors import BotError
from bot.runbooks.catalogue import Catalogue

logger = logging.getLogger(__name__)

# Evidence longer than this is shown as its head and tail; read_evidence reaches the rest.
PROMPT_HEAD_CHARS = 4_000
PROMPT_TAIL_CHARS = 10_000

SYSTEM_PROMPT = f"""You diagnose failed data-pipeline runs (Airflow, Spark, dbt, Python jobs).
Name the root cause as one failure class: {", ".join(FAILURE_CLASSES)}; or "unknown" when
the evidence does not support one class. Root cause beats consequence: a task killed after
an expired token is expired-credential, not infra-lost-worker.
Use the tools only when the evidence shown is not enough. Finish by calling
{SUBMIT_DIAGNOSIS} once. Its evidence_quotes must be copied character for character from
the evidence or tool results (one line or part of a line each), and its playbook_id must be
a catalogue playbook for the class you name (search_runbooks lists them)."""


@dataclass(frozen=True)
class ClaudeLimits:
    max_tool_calls: int = 6
    max_tokens: int = 40_000
    max_output_tokens: int = 2_048
    deadline_seconds: float = 45.0


class ClaudeStopped(BotError):
    """The conversation ended without an answer to check; `reason` goes into the note."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClaudeDiagnoser:
    """Asks Claude for a diagnosis; never raises, falls back to the rules' diagnosis."""

    def __init__(
        self,
        *,
        client: anthropic.AsyncAnthropic,
        model: str,
        catalogue: Catalogue,
        limits: ClaudeLimits,
        airflow: AirflowApi | None = None,
        spark: SparkApi | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self._catalogue = catalogue
        self._limits = limits
        self._airflow = airflow
        self._spark = spark

    async def diagnose(
        self, alert: Alert, *, evidence: list[Evidence], rules: Diagnosis
    ) -> Diagnosis:
        tools = DiagnosisTools(
            alert=alert,
            evidence=evidence,
            catalogue=self._catalogue,
            airflow=self._airflow,
            spark=self._spark,
        )
        try:
            async with asyncio.timeout(self._limits.deadline_seconds):
                submitted = await self._converse(alert, rules, tools)
            return to_checked_diagnosis(
                submitted,
                catalogue=self._catalogue,
                evidence=[*evidence, *tools.fetched],
                rules=rules,
                values=to_alert_context(alert, get_incident_id()),
            )
        except (ClaudeStopped, AnswerRejected) as exc:
            reason = exc.reason
        except TimeoutError:
            reason = messages.to_claude_timeout(self._limits.deadline_seconds)
        except anthropic.APIError as exc:
            reason = to_api_failure(exc, self._limits.deadline_seconds)
        logger.info("Claude's diagnosis not used: %s", reason, extra=_to_log_context())
        note = messages.to_claude_fallback(reason)
        return rules.model_copy(update={"notes": [*rules.notes, note], "engine": "rules"})

    async def aclose(self) -> None:
        await self._client.close()

    async def _converse(
        self, alert: Alert, rules: Diagnosis, tools: DiagnosisTools
    ) -> dict[str, Any]:
        specs = [to_tool_param(spec) for spec in tools.to_specs()]
        conversation: list[MessageParam] = [
            {"role": "user", "content": build_prompt(alert, tools.evidence, rules)}
        ]
        tool_calls = 0
        tokens = 0
        while True:
            force_submit = tool_calls >= self._limits.max_tool_calls
            reply = await self._create(conversation, specs, force_submit=force_submit)
            tokens += reply.usage.input_tokens + reply.usage.output_tokens
            if tokens > self._limits.max_tokens:
                raise ClaudeStopped(messages.to_claude_too_many_tokens(self._limits.max_tokens))

            uses = [block for block in reply.content if block.type == "tool_use"]
            submitted = next((use for use in uses if use.name == SUBMIT_DIAGNOSIS), None)
            if submitted is not None:
                return dict(submitted.input)
            if not uses:
                raise ClaudeStopped(messages.to_claude_no_answer())
            tool_calls += len(uses)
            if tool_calls > self._limits.max_tool_calls:
                raise ClaudeStopped(
                    messages.to_claude_too_many_tool_calls(self._limits.max_tool_calls)
                )

            results = [await tools.run(use.name, dict(use.input)) for use in uses]
            conversation += build_tool_turns(reply, [use.id for use in uses], results)

    async def _create(
        self, conversation: list[MessageParam], specs: list[ToolParam], *, force_submit: bool
    ) -> Message:
        tool_choice: ToolChoiceParam = (
            {"type": "tool", "name": SUBMIT_DIAGNOSIS} if force_submit else {"type": "auto"}
        )
        started = time.perf_counter()
        outcome = "error"
        status: int | None = None
        try:
            reply = await self._client.messages.create(
                model=self._model,
                max_tokens=self._limits.max_output_tokens,
                system=SYSTEM_PROMPT,
                messages=conversation,
                tools=specs,
                tool_choice=tool_choice,
            )
            outcome = str(reply.stop_reason)
            status = 200
            return reply
        except anthropic.APIStatusError as exc:
            outcome = f"HTTP {exc.status_code}"
            status = exc.status_code
            raise
        except anthropic.APITimeoutError:
            outcome = "timeout"
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            add_call(CallTiming("anthropic", "POST", "/v1/messages", outcome, duration_ms, status))
            logger.info(
                "anthropic POST /v1/messages: %s in %.0f ms",
                outcome,
                duration_ms,
                extra={**_to_log_context(), "duration_ms": duration_ms},
            )


def to_api_failure(exc: anthropic.APIError, deadline_seconds: float) -> str:
    if isinstance(exc, anthropic.RateLimitError):
        return messages.to_claude_rate_limited()
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code == 529:
        return messages.to_claude_overloaded()
    if isinstance(exc, anthropic.APIStatusError):
        return messages.to_claude_http_error(exc.status_code)
    if isinstance(exc, anthropic.APITimeoutError):
        return messages.to_claude_timeout(deadline_seconds)
    return messages.to_claude_unreachable()


def build_prompt(alert: Alert, evidence: list[Evidence], rules: Diagnosis) -> str:
    """The first user turn: the rule engine's view, then each evidence text, bounded."""
    alternatives = ", ".join(f"{item.failure_class} {item.score}" for item in rules.alternatives)
    parts = [
        f"Incident: {alert.title}",
        f"The rule engine says {rules.failure_class} (confidence {rules.confidence}); "
        f"other candidates: {alternatives or 'none'}.",
    ]
    for item in evidence:
        if item.note:
            parts.append(f"Note from {item.source}: {item.note}")
        if item.text:
            parts.append(f'<evidence source="{item.source}">\n{to_shown_text(item)}\n</evidence>')
    return "\n\n".join(parts)


def to_shown_text(item: Evidence) -> str:
    text = item.text
    if len(text) <= PROMPT_HEAD_CHARS + PROMPT_TAIL_CHARS:
        return text
    head = text[:PROMPT_HEAD_CHARS].rsplit("\n", 1)[0]
    tail = text[-PROMPT_TAIL_CHARS:].split("\n", 1)[-1]
    first_hidden = head.count("\n") + 2
    last_hidden = text.count("\n") - tail.count("\n")
    return f"{head}\n[lines {first_hidden}-{last_hidden} not shown: use read_evidence]\n{tail}"


def build_tool_turns(
    reply: Message, tool_use_ids: list[str], results: list[ToolResult]
) -> list[MessageParam]:
    """The assistant's tool calls and the user turn answering each of them, in order."""
    answers: list[ToolResultBlockParam] = [
        {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": result.text,
            "is_error": result.is_error,
        }
        for tool_use_id, result in zip(tool_use_ids, results, strict=True)
    ]
    return [
        {"role": "assistant", "content": to_content_params(reply)},
        {"role": "user", "content": answers},
    ]


def to_tool_param(spec: ToolSpec) -> ToolParam:
    return {
        "name": spec.name,
        "description": spec.description,
        "input_schema": spec.input_schema,
    }


def to_content_params(reply: Message) -> list[Any]:
    """The assistant's turn as request content, to send back with the tool results."""
    return [block.model_dump(exclude_none=True) for block in reply.content]


def _to_log_context() -> dict[str, Any]:
    return {"incident_id": get_incident_id(), "system": "anthropic"}
