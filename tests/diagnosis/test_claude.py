"""Claude's second opinion through the real anthropic SDK against a local Messages stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anthropic
import httpx
import pytest

from bot.alerts.models import Alert, AlertStatus, PipelineContext, Source
from bot.chaos.standins.anthropic import AnthropicStandIn, text_reply, tool_use
from bot.chaos.standins.server import serve_app
from bot.diagnosis.claude import ClaudeDiagnoser, ClaudeLimits
from bot.diagnosis.collectors import AirflowApi
from bot.diagnosis.models import Diagnosis, Evidence
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from tests.fakes.airflow import FakeAirflow, Task

KEY_ERROR = "KeyError: \"['amount'] not in index\""
LOG = "\n".join(
    [
        "[2025-06-01, 10:00:00 UTC] {etl.py:20} INFO - reading s3://lake/orders/2025-06-01",
        "Traceback (most recent call last):",
        '  File "/opt/airflow/dags/etl.py", line 12, in transform',
        KEY_ERROR,
        "[2025-06-01, 10:00:02 UTC] {taskinstance.py:1206} INFO - Marking task as FAILED.",
    ]
)
EVIDENCE = [
    Evidence(source="alert", text="Task transform failed"),
    Evidence(source="airflow", text=LOG),
]
RULES = Diagnosis(
    failure_class="unknown",
    playbook_id=None,
    confidence=0.31,
    summary="Not sure.",
    notes=["Spark: not configured."],
)
TASK = Task("daily_revenue", "scheduled__2025-06-01T10:00:00+00:00", "transform")


def build_alert() -> Alert:
    return Alert(
        source=Source.AIRFLOW,
        delivery_id="d-1",
        fingerprint="f-1",
        status=AlertStatus.FIRING,
        title="Task transform failed",
        pipeline=PipelineContext(dag_id=TASK.dag_id, run_id=TASK.run_id, task_id=TASK.task_id),
    )


def submit(**overrides: object) -> dict[str, object]:
    answer: dict[str, object] = {
        "failure_class": "schema-drift",
        "playbook_id": "schema-drift-airflow",
        "confidence": 0.86,
        "summary": "The input lost its amount column.",
        "evidence_quotes": [KEY_ERROR],
        "alternatives": [{"failure_class": "code-bug", "score": 0.2}],
    }
    return tool_use("submit_diagnosis", {**answer, **overrides})


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(builtin_runbooks_dir())


@pytest.fixture
def claude() -> Iterator[tuple[AnthropicStandIn, str]]:
    fake = AnthropicStandIn()
    with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
async def build_diagnoser(claude, catalogue) -> AsyncIterator[Callable[..., ClaudeDiagnoser]]:
    _, base_url = claude
    clients: list[anthropic.AsyncAnthropic] = []

    def build(**limits: float) -> ClaudeDiagnoser:
        client = anthropic.AsyncAnthropic(
            api_key="sk-test", base_url=base_url, max_retries=0, timeout=limits.pop("timeout", 5)
        )
        clients.append(client)
        return ClaudeDiagnoser(
            client=client,
            model="claude-test",
            catalogue=catalogue,
            limits=ClaudeLimits(**limits),  # type: ignore[arg-type]
        )

    yield build
    for client in clients:
        await client.close()


async def test_tool_turn_then_submit_gives_a_checked_claude_diagnosis(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(tool_use("read_evidence", {"source": "airflow", "start_line": 2, "line_count": 3}))
    fake.queue(submit())

    diagnosis = await build_diagnoser().diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    assert diagnosis.engine == "claude"
    assert (diagnosis.failure_class, diagnosis.playbook_id) == (
        "schema-drift",
        "schema-drift-airflow",
    )
    assert diagnosis.confidence == 0.86
    [line] = diagnosis.evidence_lines
    assert (line.source, line.line_number, line.text) == ("airflow", 4, KEY_ERROR)
    assert [item.failure_class for item in diagnosis.alternatives] == ["code-bug"]
    assert diagnosis.notes == RULES.notes
    assert diagnosis.values["dag_id"] == "daily_revenue"


async def test_tool_results_go_back_with_the_matching_tool_use_id(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(tool_use("read_evidence", {"source": "airflow", "start_line": 4, "line_count": 1}))
    fake.queue(submit())

    await build_diagnoser().diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    first, second = fake.bodies
    assert "Task transform failed" in first["messages"][0]["content"]
    assert {tool["name"] for tool in first["tools"]} == {
        "read_evidence",
        "search_runbooks",
        "submit_diagnosis",
    }
    assistant, results = second["messages"][1:]
    [call] = [block for block in assistant["content"] if block["type"] == "tool_use"]
    [result] = results["content"]
    assert result["tool_use_id"] == call["id"]
    assert result["content"] == f"airflow, lines 4-4 of 5:\n{KEY_ERROR}"
    assert not result["is_error"]


async def test_search_runbooks_lists_playbooks_for_claude(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(tool_use("search_runbooks", {"query": "schema drift missing column"}), submit())

    await build_diagnoser().diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    [result] = fake.bodies[1]["messages"][2]["content"]
    assert "schema-drift-airflow (class schema-drift" in result["content"]


async def test_quote_from_a_refetched_task_instance_counts_as_evidence(catalogue):
    airflow = FakeAirflow(version="v2")
    airflow.add_task_instance(TASK, hostname="worker-7.internal")
    fake = AnthropicStandIn()
    fake.queue(
        tool_use("get_task_instance", {}),
        submit(
            failure_class="infra-lost-worker",
            playbook_id="infra-lost-worker-airflow",
            evidence_quotes=["hostname=worker-7.internal"],
        ),
    )
    with serve_app(airflow.app) as airflow_url, serve_app(fake.app) as claude_url:
        async with (
            httpx.AsyncClient(timeout=2) as http,
            anthropic.AsyncAnthropic(api_key="k", base_url=claude_url, max_retries=0) as client,
        ):
            api = AirflowApi(client=http, base_url=airflow_url, username="bot", password="op")
            diagnoser = ClaudeDiagnoser(
                client=client,
                model="claude-test",
                catalogue=catalogue,
                limits=ClaudeLimits(),
                airflow=api,
            )
            diagnosis = await diagnoser.diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    assert diagnosis.engine == "claude" and diagnosis.failure_class == "infra-lost-worker"
    assert diagnosis.evidence_lines[0].source == "airflow-task-instance"
    assert not airflow.writes


def queue_rate_limit(fake: AnthropicStandIn) -> None:
    fake.rate_limited()


def queue_overload(fake: AnthropicStandIn) -> None:
    fake.overloaded()


def queue_server_error(fake: AnthropicStandIn) -> None:
    fake.fail("messages", 500, body={"type": "error", "error": {"type": "api_error"}})


def queue_hang(fake: AnthropicStandIn) -> None:
    fake.hang("messages")


def queue_invalid_class(fake: AnthropicStandIn) -> None:
    fake.queue(submit(failure_class="network-glitch"))


def queue_missing_playbook(fake: AnthropicStandIn) -> None:
    fake.queue(submit(playbook_id="schema-drift-kafka"))


def queue_playbook_of_another_class(fake: AnthropicStandIn) -> None:
    fake.queue(submit(playbook_id="disk-full"))


def queue_invented_quote(fake: AnthropicStandIn) -> None:
    fake.queue(submit(evidence_quotes=["KeyError: 'amount_usd' missing from frame"]))


def queue_no_quote(fake: AnthropicStandIn) -> None:
    fake.queue(submit(evidence_quotes=[]))


def queue_bad_confidence(fake: AnthropicStandIn) -> None:
    fake.queue(submit(confidence=7))


def queue_endless_tools(fake: AnthropicStandIn) -> None:
    fake.queue(*[tool_use("read_evidence", {"source": "airflow", "start_line": 1})] * 4)


def queue_huge_turn(fake: AnthropicStandIn) -> None:
    fake.queue(tool_use("search_runbooks", {"query": "oom"}, usage=(39_000, 2_000)), submit())


def queue_chat_without_answer(fake: AnthropicStandIn) -> None:
    fake.queue(text_reply("It is probably the schema."))


@pytest.mark.parametrize(
    ("arrange", "expected_reason"),
    [
        (queue_rate_limit, "the Anthropic API is rate-limiting the bot, HTTP 429"),
        (queue_overload, "the Anthropic API is overloaded, HTTP 529"),
        (queue_server_error, "the Anthropic API answered HTTP 500"),
        (queue_hang, "no answer within 0.5 s"),
        (queue_invalid_class, "it named the class 'network-glitch', which is not in the taxonomy"),
        (
            queue_missing_playbook,
            "the playbook 'schema-drift-kafka', which is not in the catalogue",
        ),
        (queue_playbook_of_another_class, "its playbook 'disk-full' is not for the class"),
        (queue_invented_quote, "does not appear in the evidence"),
        (queue_no_quote, "it quoted no evidence for its class"),
        (queue_bad_confidence, "its answer did not fit the schema: confidence"),
        (queue_endless_tools, "it wanted more than 2 tool calls"),
        (queue_huge_turn, "it needed more than 40000 tokens"),
        (queue_chat_without_answer, "it ended without a structured diagnosis"),
    ],
)
async def test_every_failure_falls_back_to_the_rules_with_a_note(
    claude, build_diagnoser, arrange, expected_reason
):
    fake, _ = claude
    arrange(fake)

    diagnosis = await build_diagnoser(max_tool_calls=2, deadline_seconds=0.5).diagnose(
        build_alert(), evidence=EVIDENCE, rules=RULES
    )

    assert diagnosis.engine == "rules"
    assert diagnosis.failure_class == RULES.failure_class
    assert diagnosis.notes[:-1] == RULES.notes
    assert diagnosis.notes[-1].startswith("Claude's diagnosis was not used (")
    assert expected_reason in diagnosis.notes[-1]


async def test_rate_limit_is_not_retried(claude, build_diagnoser):
    fake, _ = claude
    fake.rate_limited()

    await build_diagnoser().diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    assert len(fake.bodies) == 1


async def test_last_allowed_turn_forces_the_submit_tool(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(tool_use("read_evidence", {"source": "airflow", "start_line": 1}), submit())

    diagnosis = await build_diagnoser(max_tool_calls=1).diagnose(
        build_alert(), evidence=EVIDENCE, rules=RULES
    )

    assert diagnosis.engine == "claude"
    assert [body["tool_choice"] for body in fake.bodies] == [
        {"type": "auto"},
        {"type": "tool", "name": "submit_diagnosis"},
    ]


async def test_unknown_answer_needs_no_playbook_or_quote(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(submit(failure_class="unknown", playbook_id=None, evidence_quotes=[]))

    diagnosis = await build_diagnoser().diagnose(build_alert(), evidence=EVIDENCE, rules=RULES)

    assert (diagnosis.engine, diagnosis.failure_class, diagnosis.playbook_id) == (
        "claude",
        "unknown",
        None,
    )


async def test_long_evidence_is_shown_as_head_and_tail_with_the_gap_named(claude, build_diagnoser):
    fake, _ = claude
    fake.queue(submit())
    long_log = "\n".join(f"INFO - batch {index} done" for index in range(5_000)) + f"\n{KEY_ERROR}"

    await build_diagnoser().diagnose(
        build_alert(), evidence=[Evidence(source="airflow", text=long_log)], rules=RULES
    )

    prompt = fake.bodies[0]["messages"][0]["content"]
    assert len(prompt) < 20_000
    assert KEY_ERROR in prompt and "not shown: use read_evidence" in prompt
