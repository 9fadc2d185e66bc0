"""`incident-bot traces export`, run through the main CLI against the test Redis."""

import json

from typer.testing import CliRunner

from bot.cli import app
from bot.traces.models import StepKind
from bot.traces.store import TraceRecorder
from tests.conftest import on_test_redis


def invoke(env, *args):
    return CliRunner().invoke(app, ["traces", "export", *args], env=env)


def record_traces(redis_url):
    async def work(client):
        recorder = TraceRecorder(client)
        await recorder.add_step("INC-1", StepKind.DIAGNOSIS, "rules", output={"score": 0.9})
        await recorder.add_step("INC-2", StepKind.EVIDENCE_CALL, "spark.app")
        await recorder.add_step("INC-1", StepKind.OUTCOME, "resolved")

    on_test_redis(redis_url, work)


def test_export_writes_one_line_per_incident_with_its_steps(redis_url, redis_env):
    record_traces(redis_url)

    result = invoke(redis_env)

    traces = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert [trace["incident_id"] for trace in traces] == ["INC-1", "INC-2"]
    assert [step["name"] for step in traces[0]["steps"]] == ["rules", "resolved"]
    assert traces[0]["steps"][0]["output"] == {"score": 0.9}


def test_export_of_one_incident_accepts_its_number(redis_url, redis_env, tmp_path):
    record_traces(redis_url)
    output = tmp_path / "traces.jsonl"

    result = invoke(redis_env, "--incident", "2", "--output", str(output))

    traces = [json.loads(line) for line in output.read_text().splitlines()]
    assert result.exit_code == 0
    assert [trace["incident_id"] for trace in traces] == ["INC-2"]
    assert f"exported 1 incident trace to {output}" in result.stderr


def test_export_of_an_incident_without_a_trace_exits_non_zero(redis_env):
    result = invoke(redis_env, "--incident", "INC-7")

    assert result.exit_code == 1
    assert "No trace recorded for INC-7." in result.stderr


def test_export_refuses_a_reference_that_names_no_incident(redis_env):
    result = invoke(redis_env, "--incident", "yesterday")

    assert result.exit_code == 2
    assert "names no incident" in result.stderr
