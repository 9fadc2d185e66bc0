"""The Airflow collector against a local Airflow 2 or 3 stand-in over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from bot.alerts.models import Alert, AlertStatus, PipelineContext, Source
from bot.chaos.standins.server import serve_app
from bot.diagnosis.collectors import AirflowApi, AirflowCollector, record_calls
from bot.diagnosis.collectors.airflow_logs import to_v1_log_text
from tests.fakes.airflow import FakeAirflow, Task, error_event, event, stack

RUN_ID = "scheduled__2025-06-01T10:00:00+00:00"
TASK = Task("daily_revenue", RUN_ID, "transform")
KEY_ERROR = "KeyError: \"['amount'] not in index\""
V1_LOG = (
    "[2025-06-01, 10:00:01 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/dags/etl.py", line 12, in transform\n'
    f"{KEY_ERROR}\n"
    "[2025-06-01, 10:00:02 UTC] {taskinstance.py:1206} INFO - Marking task as FAILED.\n"
)
TIMEOUT_SECONDS = 0.5


def build_alert(task: Task = TASK, *, try_number: int | None = None) -> Alert:
    return Alert(
        source=Source.AIRFLOW,
        delivery_id="d-1",
        fingerprint="f-1",
        status=AlertStatus.FIRING,
        title=f"Task {task.task_id} failed",
        pipeline=PipelineContext(
            dag_id=task.dag_id,
            run_id=task.run_id,
            task_id=task.task_id,
            try_number=try_number,
            map_index=None if task.map_index < 0 else task.map_index,
        ),
    )


def build_v3_events() -> list[dict[str, object]]:
    return [
        event("::group::Log message source details", sources=["/opt/airflow/logs/1.log"]),
        event("Reading input", logger="task.stdout"),
        error_event(
            stack("KeyError", "\"['amount'] not in index\""),
            stack("ValueError", "column lookup failed", is_cause=True),
        ),
    ]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        yield client


@pytest.fixture
def airflow3() -> Iterator[tuple[FakeAirflow, str]]:
    fake = FakeAirflow(version="v2")
    fake.add_task_instance(TASK, try_number=2)
    fake.set_log(TASK, 2, build_v3_events())
    with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def airflow2() -> Iterator[tuple[FakeAirflow, str]]:
    fake = FakeAirflow(version="v1")
    fake.add_task_instance(TASK, try_number=1)
    fake.set_log(TASK, 1, V1_LOG)
    with serve_app(fake.app) as base_url:
        yield fake, base_url


def build_collector(http: httpx.AsyncClient, base_url: str, **options: str) -> AirflowCollector:
    api = AirflowApi(client=http, base_url=base_url, username="bot", password="op", **options)  # type: ignore[arg-type]
    return AirflowCollector(api)


async def test_airflow3_log_events_become_a_python_traceback_with_the_cause_first(airflow3, http):
    fake, base_url = airflow3

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None
    lines = evidence.text.splitlines()
    assert "state=failed" in lines[0] and "try_number=2" in lines[0]
    assert lines.index("ValueError: column lookup failed") < lines.index(KEY_ERROR)
    assert "The above exception was the direct cause of the following exception:" in lines
    assert '  File "/opt/airflow/dags/etl_0.py", line 10, in run' in lines
    assert any(line.endswith("task.stdout - Reading input") for line in lines)
    [log_request] = [r for r in fake.requests if "/logs/" in r.path]
    assert log_request.headers["accept"] == "application/x-ndjson"
    assert log_request.query["full_content"] == "true"


async def test_airflow3_jwt_is_fetched_once_and_reused(airflow3, http):
    fake, base_url = airflow3
    collector = build_collector(http, base_url)

    await collector.collect(build_alert())
    await collector.collect(build_alert())

    assert len(fake.issued_tokens) == 1
    assert [r.json for r in fake.requests if r.path == "/auth/token"] == [
        {"username": "bot", "password": "op"}
    ]


async def test_airflow3_expired_jwt_is_refreshed_once_on_401(airflow3, http):
    fake, base_url = airflow3
    collector = build_collector(http, base_url)
    await collector.collect(build_alert())
    fake.expire_tokens()

    evidence = await collector.collect(build_alert())

    assert evidence is not None and evidence.note is None and KEY_ERROR in evidence.text
    assert len(fake.issued_tokens) == 2


async def test_airflow3_static_token_is_sent_without_asking_for_a_jwt(http):
    fake = FakeAirflow(version="v2", static_token="static-1")
    fake.add_task_instance(TASK, try_number=1)
    fake.set_log(TASK, 1, build_v3_events())
    with serve_app(fake.app) as base_url:
        api = AirflowApi(client=http, base_url=base_url, static_token="static-1")
        evidence = await AirflowCollector(api).collect(build_alert())

    assert evidence is not None and evidence.note is None
    assert not fake.issued_tokens
    assert {r.headers.get("authorization") for r in fake.requests if "/dags/" in r.path} == {
        "Bearer static-1"
    }


async def test_airflow3_json_log_answer_is_read_like_ndjson(http):
    fake = FakeAirflow(version="v2", streams_ndjson=False)
    fake.add_task_instance(TASK, try_number=1)
    fake.set_log(TASK, 1, build_v3_events())
    with serve_app(fake.app) as base_url:
        evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None
    assert KEY_ERROR in evidence.text.splitlines()


async def test_run_id_with_colons_and_plus_is_url_encoded(airflow3, http):
    fake, base_url = airflow3

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None
    task_paths = {r.path for r in fake.requests if "/dags/" in r.path}
    assert f"/api/v2/dags/daily_revenue/dagRuns/{RUN_ID}/taskInstances/transform" in task_paths


async def test_mapped_task_reads_its_map_index(http):
    mapped = Task("daily_revenue", RUN_ID, "load", map_index=3)
    fake = FakeAirflow(version="v2")
    fake.add_task_instance(mapped, try_number=1)
    fake.set_log(mapped, 1, build_v3_events())
    with serve_app(fake.app) as base_url:
        evidence = await build_collector(http, base_url).collect(build_alert(mapped))

    assert evidence is not None and evidence.note is None and KEY_ERROR in evidence.text
    paths = [r.path for r in fake.requests]
    assert f"/api/v2/dags/daily_revenue/dagRuns/{RUN_ID}/taskInstances/load/3" in paths
    assert [r.query.get("map_index") for r in fake.requests if "/logs/" in r.path] == ["3"]


async def test_airflow2_is_detected_and_read_as_text_with_basic_auth(airflow2, http):
    fake, base_url = airflow2

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None
    assert KEY_ERROR in evidence.text.splitlines()
    assert [r.path for r in fake.requests][:2] == ["/api/v2/version", "/api/v1/version"]
    log_request = next(r for r in fake.requests if "/logs/" in r.path)
    assert log_request.headers["authorization"].startswith("Basic ")
    assert not fake.issued_tokens


async def test_airflow2_setting_skips_version_detection(airflow2, http):
    fake, base_url = airflow2

    evidence = await build_collector(http, base_url, version="v1").collect(build_alert())

    assert evidence is not None and evidence.note is None
    assert not [r for r in fake.requests if r.path.endswith("/version")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (repr([("worker-1", V1_LOG)]), V1_LOG),
        ([["worker-1", "line one"], ["worker-2", "line two"]], "line one\nline two"),
        ("plain text, no tuples", "plain text, no tuples"),
        ("[('unbalanced', ", "[('unbalanced', "),
    ],
)
def test_airflow2_json_content_is_unwrapped_from_its_python_repr(content, expected):
    assert to_v1_log_text(content) == expected


def generate_huge_log(version: str, size: int) -> Callable[[], Iterator[str]]:
    """A log of about `size` bytes: a root cause near the start, the final failure at the end."""
    if version == "v1":
        filler = "[2025-06-01, 10:00:00 UTC] {etl.py:40} INFO - processed batch of 5000 rows\n"
        root_cause = (
            "Traceback (most recent call last):\n"
            '  File "/opt/airflow/dags/etl.py", line 12, in transform\n'
            f"{KEY_ERROR}\n"
        )
        last = "[2025-06-01, 10:09:59 UTC] {taskinstance.py:1206} INFO - Marking task as FAILED.\n"
    else:
        filler = json.dumps(event("processed batch of 5000 rows", logger="task.stdout")) + "\n"
        root_cause = (
            json.dumps(error_event(stack("KeyError", "\"['amount'] not in index\""))) + "\n"
        )
        last = json.dumps(event("Marking task as FAILED.")) + "\n"

    def generate() -> Iterator[str]:
        yield filler * 100
        yield root_cause
        block = filler * 10_000
        for _ in range(size // len(block)):
            yield block
        yield last

    return generate


@pytest.mark.slow
@pytest.mark.parametrize(("version", "size"), [("v1", 50_000_000), ("v2", 20_000_000)])
async def test_huge_log_keeps_a_bounded_tail_and_the_early_error_block(version, size):
    fake = FakeAirflow(version=version)
    fake.add_task_instance(TASK, try_number=1)
    fake.set_log(TASK, 1, generate_huge_log(version, size))
    with serve_app(fake.app) as base_url:
        async with httpx.AsyncClient(timeout=10) as client:
            evidence = await build_collector(client, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None and evidence.truncated
    assert len(evidence.text) < 200_000
    assert KEY_ERROR in evidence.text.splitlines()
    assert evidence.text.rstrip().splitlines()[-1].endswith("Marking task as FAILED.")
    assert "log lines not kept" in evidence.text


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_log_answering_500_leaves_a_note_and_keeps_the_task_instance(version, http):
    fake = FakeAirflow(version=version)  # type: ignore[arg-type]
    fake.add_task_instance(TASK, try_number=1)
    fake.fail("log", 500, body={"detail": "boom"})
    with serve_app(fake.app) as base_url:
        evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None
    assert evidence.note == "Airflow answered HTTP 500; its evidence is missing."
    assert "state=failed" in evidence.text


async def test_hanging_airflow_times_out_into_a_note(airflow3, http):
    fake, base_url = airflow3
    fake.hang("*")

    started = time.perf_counter()
    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None
    assert evidence.note == "Airflow did not answer in time; its evidence is missing."
    assert time.perf_counter() - started < TIMEOUT_SECONDS * 4


async def test_wrong_password_is_reported_as_refused_credentials(airflow3, http):
    _, base_url = airflow3
    api = AirflowApi(client=http, base_url=base_url, username="bot", password="wrong")

    evidence = await AirflowCollector(api).collect(build_alert())

    assert evidence is not None and evidence.note is not None
    assert "refused the bot's credentials (HTTP 401)" in evidence.note


async def test_unreachable_airflow_leaves_a_note(http):
    api = AirflowApi(client=http, base_url="http://127.0.0.1:9", username="bot", password="op")

    evidence = await AirflowCollector(api).collect(build_alert())

    assert evidence is not None and evidence.note is not None
    assert evidence.note.startswith("Airflow could not be reached")


async def test_alert_without_a_task_instance_is_not_collected(http):
    api = AirflowApi(client=http, base_url="http://127.0.0.1:9")
    alert = build_alert().model_copy(update={"pipeline": None})

    assert await AirflowCollector(api).collect(alert) is None


async def test_every_call_is_logged_and_recorded_with_its_outcome(airflow3, http, caplog):
    _, base_url = airflow3
    caplog.set_level("INFO", logger="bot.diagnosis.collectors.http")

    with record_calls("inc-7") as call_log:
        await build_collector(http, base_url).collect(build_alert())

    assert [(call.method, call.outcome) for call in call_log.calls] == [
        ("GET", "200"),
        ("POST", "201"),
        ("GET", "200"),
        ("GET", "200"),
    ]
    assert [call.path for call in call_log.calls][:2] == ["/api/v2/version", "/auth/token"]
    assert len(caplog.records) == 4
    assert {record.incident_id for record in caplog.records} == {"inc-7"}
    assert not any("op" in record.getMessage().split() for record in caplog.records)


# The failure callback can arrive before the worker reports the failure and writes the
# traceback: the collector waits for the task instance to leave the running states.


def to_instance_and_log_reads(fake: FakeAirflow) -> list[str]:
    """The collector's reads in order: `state` for the task instance, `log` for the log."""
    return [
        "log" if "/logs/" in request.path else "state"
        for request in fake.requests
        if request.path.endswith(f"/taskInstances/{TASK.task_id}") or "/logs/" in request.path
    ]


def build_log_written_so_far(fake: FakeAirflow) -> Callable[[], Iterator[str]]:
    """The Airflow 3 log as the worker has written it when it is read: the traceback is
    there only once the task instance reads failed."""

    def chunks() -> Iterator[str]:
        events = [event("Reading input", logger="task.stdout")]
        if fake.get_state(TASK) == "failed":
            events.append(error_event(stack("KeyError", "\"['amount'] not in index\"")))
        return (json.dumps(item) + "\n" for item in events)

    return chunks


@pytest.mark.parametrize("unsettled", ["running", "queued", "scheduled", "restarting"])
async def test_task_still_running_is_polled_until_it_failed_then_its_log_is_read(
    airflow3, http, unsettled
):
    fake, base_url = airflow3
    fake.script_states(TASK, [unsettled, unsettled, unsettled, "failed"])
    fake.set_log(TASK, 2, build_log_written_so_far(fake))
    api = AirflowApi(client=http, base_url=base_url, username="bot", password="op")
    collector = AirflowCollector(api, settle_seconds=10.0, poll_seconds=0.01)

    evidence = await collector.collect(build_alert())

    assert evidence is not None and evidence.note is None
    assert "state=failed" in evidence.text.splitlines()[0]
    assert KEY_ERROR in evidence.text.splitlines()
    assert to_instance_and_log_reads(fake) == ["state", "state", "state", "state", "log"]


async def test_task_stuck_running_is_read_anyway_once_the_settle_time_is_over(airflow3, http):
    fake, base_url = airflow3
    fake.add_task_instance(TASK, state="running", try_number=2)
    settle_seconds = 0.3
    api = AirflowApi(client=http, base_url=base_url, username="bot", password="op")
    collector = AirflowCollector(api, settle_seconds=settle_seconds, poll_seconds=0.05)

    started = time.monotonic()
    evidence = await collector.collect(build_alert())
    elapsed = time.monotonic() - started

    assert evidence is not None and evidence.note is None
    assert "state=running" in evidence.text.splitlines()[0]
    assert KEY_ERROR in evidence.text.splitlines()
    assert settle_seconds <= elapsed < settle_seconds + 3.0
    reads = to_instance_and_log_reads(fake)
    assert reads[-1] == "log" and reads.count("log") == 1
    assert reads.count("state") >= 3


async def test_task_that_already_failed_is_read_once_without_waiting(airflow3, http):
    fake, base_url = airflow3
    api = AirflowApi(client=http, base_url=base_url, username="bot", password="op")
    collector = AirflowCollector(api, settle_seconds=30.0, poll_seconds=10.0)

    started = time.monotonic()
    evidence = await collector.collect(build_alert())

    assert evidence is not None and KEY_ERROR in evidence.text.splitlines()
    assert time.monotonic() - started < 5.0
    assert to_instance_and_log_reads(fake) == ["state", "log"]
