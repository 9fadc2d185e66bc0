"""`incident-bot audit verify|export`, run through the main CLI against the test Redis."""

import json

from typer.testing import CliRunner

from bot.audit.export import PROGRESS_MIN_LINES
from bot.audit.models import AuditKind
from bot.audit.store import AUDIT_KEY, AuditLog
from bot.cli import app
from tests.conftest import on_test_redis


def invoke(env, *args):
    return CliRunner().invoke(app, ["audit", *args], env=env)


def append_entries(redis_url, count):
    async def work(client):
        log = AuditLog(client)
        for n in range(count):
            await log.append(AuditKind.STATE_CHANGE, actor="incident-bot", data={"n": n})

    on_test_redis(redis_url, work)


def edit_actor(redis_url, index):
    async def work(client):
        entry = json.loads(await client.lindex(AUDIT_KEY, index))
        await client.lset(AUDIT_KEY, index, json.dumps(entry | {"actor": "mallory"}))

    on_test_redis(redis_url, work)


def test_verify_reports_an_intact_chain_with_its_length(redis_url, redis_env):
    append_entries(redis_url, 3)

    result = invoke(redis_env, "verify")

    assert result.exit_code == 0
    assert result.stdout.strip() == "audit chain intact: 3 entries"


def test_verify_exits_non_zero_naming_the_altered_entry(redis_url, redis_env):
    append_entries(redis_url, 4)
    edit_actor(redis_url, 2)

    result = invoke(redis_env, "verify")

    assert result.exit_code == 1
    assert "audit chain broken at seq 3" in result.stderr
    assert "hash does not match" in result.stderr


def test_export_writes_each_entry_as_stored_to_stdout(redis_url, redis_env):
    append_entries(redis_url, 3)
    stored = on_test_redis(redis_url, lambda client: client.lrange(AUDIT_KEY, 0, -1))

    result = invoke(redis_env, "export")

    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines == [raw.decode() for raw in stored]
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]


def test_export_to_a_file_writes_json_lines_past_the_progress_threshold(
    redis_url, redis_env, tmp_path
):
    count = PROGRESS_MIN_LINES + 1
    append_entries(redis_url, count)
    output = tmp_path / "audit.jsonl"

    result = invoke(redis_env, "export", "--output", str(output))

    entries = [json.loads(line) for line in output.read_text().splitlines()]
    assert result.exit_code == 0
    assert [entry["seq"] for entry in entries] == list(range(1, count + 1))
    assert result.stdout == ""
    assert f"exported {count} audit entries to {output}" in result.stderr
