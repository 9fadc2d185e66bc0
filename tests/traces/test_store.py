"""Incident traces in a real Redis: order, timing, sizes, truncation and redaction."""

import asyncio
import json

import pytest

from bot.audit.redaction import REDACTED
from bot.traces.bounds import TRUNCATED
from bot.traces.models import StepKind
from bot.traces.store import TraceRecorder


async def test_steps_come_back_in_the_order_they_were_added(redis):
    recorder = TraceRecorder(redis)

    await recorder.add_step("INC-1", StepKind.EVIDENCE_CALL, "airflow.task_log", output="log")
    await recorder.add_step("INC-1", StepKind.DIAGNOSIS, "rules", output={"class": "disk-full"})
    await recorder.add_step("INC-1", StepKind.OUTCOME, "resolved")
    trace = await recorder.get_trace("INC-1")

    assert [(step.seq, step.name) for step in trace.steps] == [
        (1, "airflow.task_log"),
        (2, "rules"),
        (3, "resolved"),
    ]
    assert trace.steps[1].output == {"class": "disk-full"}


async def test_concurrent_steps_each_take_their_own_seq(redis):
    recorder = TraceRecorder(redis)

    added = await asyncio.gather(
        *(recorder.add_step("INC-1", StepKind.TOOL_CALL, f"tool-{n}") for n in range(20))
    )
    trace = await recorder.get_trace("INC-1")

    assert sorted(step.seq for step in added) == list(range(1, 21))
    assert [step.seq for step in trace.steps] == list(range(1, 21))


async def test_step_block_is_timed_and_its_output_recorded(redis):
    recorder = TraceRecorder(redis)

    async with recorder.step("INC-1", StepKind.VERIFICATION, "poll", input={"try": 1}) as step:
        await asyncio.sleep(0.02)
        step.output = {"state": "success"}
    recorded = (await recorder.get_trace("INC-1")).steps[0]

    assert recorded.input == {"try": 1}
    assert recorded.output == {"state": "success"}
    assert recorded.duration_ms >= 15
    assert recorded.error is None


async def test_step_block_that_raises_is_recorded_with_its_error_and_reraises(redis):
    recorder = TraceRecorder(redis)

    with pytest.raises(ConnectionError):
        async with recorder.step("INC-1", StepKind.ACTION, "airflow.clear"):
            raise ConnectionError("refused with token xoxb-123-secret")
    recorded = (await recorder.get_trace("INC-1")).steps[0]

    assert recorded.error == f"ConnectionError: refused with token {REDACTED}"
    assert recorded.duration_ms is not None


async def test_step_block_cancelled_mid_way_is_recorded_as_cancelled(redis):
    recorder = TraceRecorder(redis)
    entered, never = asyncio.Event(), asyncio.Event()

    async def verify():
        async with recorder.step("INC-1", StepKind.VERIFICATION, "poll"):
            entered.set()
            await never.wait()

    task = asyncio.create_task(verify())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert (await recorder.get_trace("INC-1")).steps[0].error == "cancelled"


async def test_size_counts_the_json_of_input_and_output(redis):
    recorder = TraceRecorder(redis)
    given, answer = {"query": "q"}, ["a", "b"]

    step = await recorder.add_step(
        "INC-1", StepKind.CLAUDE_CALL, "messages", input=given, output=answer
    )

    compact = [json.dumps(value, separators=(",", ":")) for value in (given, answer)]
    assert step.size_bytes == sum(len(text) for text in compact)


async def test_secrets_are_masked_in_inputs_and_outputs(redis):
    recorder = TraceRecorder(redis)

    await recorder.add_step(
        "INC-1",
        StepKind.ACTION,
        "http.rotate",
        input={"headers": {"Authorization": "Bearer abcdefgh"}, "url": "http://rotate"},
        output={"new_credentials": {"api_key": "k"}, "log": "AKIAIOSFODNN7EXAMPLE rotated"},
    )
    stored = (await redis.lindex("ib:trace:INC-1", 0)).decode()
    recorded = (await recorder.get_trace("INC-1")).steps[0]

    assert recorded.input == {"headers": {"Authorization": REDACTED}, "url": "http://rotate"}
    assert recorded.output == {"new_credentials": REDACTED, "log": f"{REDACTED} rotated"}
    assert "AKIA" not in stored


async def test_long_strings_are_cut_with_a_marker(redis):
    recorder = TraceRecorder(redis, max_string_chars=10)

    step = await recorder.add_step("INC-1", StepKind.EVIDENCE_CALL, "log", output="x" * 25)

    assert step.output == f"{'x' * 10}… [{TRUNCATED}: 15 more chars]"
    assert step.size_bytes == 27


async def test_oversized_values_become_a_marked_preview(redis):
    recorder = TraceRecorder(redis, max_value_bytes=100)
    rows = [{"row": n} for n in range(50)]

    step = await recorder.add_step("INC-1", StepKind.EVIDENCE_CALL, "rows", input=rows)

    assert step.input[TRUNCATED] is True
    assert step.input["size_bytes"] == step.size_bytes
    assert step.input["preview"].startswith('[{"row":0}')
    assert len(step.input["preview"]) == 100


async def test_incident_ids_are_listed_by_their_first_step(redis):
    recorder = TraceRecorder(redis)

    for incident_id in ("INC-2", "INC-1", "INC-2", "INC-3"):
        await recorder.add_step(incident_id, StepKind.OUTCOME, "note")

    assert await recorder.list_incident_ids() == ["INC-2", "INC-1", "INC-3"]


async def test_incident_without_steps_has_an_empty_trace(redis):
    trace = await TraceRecorder(redis).get_trace("INC-9")

    assert (trace.incident_id, trace.steps) == ("INC-9", [])
