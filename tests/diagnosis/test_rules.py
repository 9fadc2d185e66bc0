from __future__ import annotations

import pytest

from bot.diagnosis.models import FAILURE_CLASSES, NOT_AN_INCIDENT, UNKNOWN, Evidence
from bot.diagnosis.rules import RuleEngine
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(builtin_runbooks_dir())


@pytest.fixture(scope="module")
def engine(catalogue: Catalogue) -> RuleEngine:
    return RuleEngine(catalogue)


def log(text: str) -> list[Evidence]:
    return [Evidence(source="log", text=text)]


AIRFLOW_HEAD = (
    "[2024-06-01, 04:00:00 UTC] {taskinstance.py:2348} INFO - Executing "
    "<Task(PythonOperator): load> on 2024-05-31 00:00:00+00:00\n"
    "[2024-06-01, 04:00:09 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/dags/sales/load.py", line 40, in load\n'
)
AIRFLOW_TAIL = (
    "\n[2024-06-01, 04:00:09 UTC] {taskinstance.py:1206} INFO - Marking task as UP_FOR_RETRY."
    " dag_id=sales, task_id=load\n"
)

CLASS_CASES = [
    (
        "schema-drift",
        "schema-drift-spark",
        "24/06/01 04:00:02 INFO SparkContext: Running Spark version 3.5.0\n"
        "pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_"
        "SUGGESTION] A column or function parameter with name `net_amount` cannot be resolved."
        " Did you mean one of the following? [`gross_amount`, `tax`].",
    ),
    (
        "expired-credential",
        "expired-credential",
        AIRFLOW_HEAD + "botocore.exceptions.ClientError: An error occurred (ExpiredToken) when"
        " calling the GetObject operation: The provided token has expired." + AIRFLOW_TAIL,
    ),
    (
        "permission-denied",
        "permission-denied",
        AIRFLOW_HEAD + "google.api_core.exceptions.Forbidden: 403 Access Denied: Table "
        "acme:raw.orders: Permission bigquery.tables.getData denied on table acme:raw.orders"
        + AIRFLOW_TAIL,
    ),
    (
        "dependency-unavailable",
        "dependency-unavailable-airflow",
        AIRFLOW_HEAD + "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.vendor"
        ".example', port=443): Max retries exceeded with url: /v1/orders (Caused by "
        'NameResolutionError("<urllib3.connection.HTTPSConnection object at 0x7f2a>: Failed to '
        "resolve 'api.vendor.example' ([Errno -3] Temporary failure in name resolution)\"))"
        + AIRFLOW_TAIL,
    ),
    (
        "out-of-memory",
        "out-of-memory-spark",
        "24/06/01 04:10:00 ERROR YarnScheduler: Lost executor 4 on ip-10-0-0-4: Container killed"
        " by YARN for exceeding memory limits. 9.1 GB of 9 GB physical memory used. Consider "
        "boosting spark.executor.memoryOverhead.\n"
        "24/06/01 04:10:05 ERROR TaskSetManager: Task 7 in stage 2.0 failed 4 times; aborting job",
    ),
    (
        "missing-input",
        "missing-input-airflow",
        AIRFLOW_HEAD + "FileNotFoundError: [Errno 2] No such file or directory: "
        "'/data/inbound/stores_20240531.csv'" + AIRFLOW_TAIL,
    ),
    (
        "disk-full",
        "disk-full",
        AIRFLOW_HEAD
        + "OSError: [Errno 28] No space left on device: '/tmp/export.parquet'"
        + AIRFLOW_TAIL,
    ),
    (
        "task-timeout",
        "task-timeout",
        AIRFLOW_HEAD + "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 4411" + AIRFLOW_TAIL,
    ),
    (
        "infra-lost-worker",
        "infra-lost-worker-spark",
        "24/06/01 04:20:00 WARN TaskSetManager: Lost task 3.0 in stage 9.0 (TID 88) (worker-2 "
        "executor 5): ExecutorLostFailure (executor 5 exited unrelated to the running tasks) "
        "Reason: Container container_01 on host: worker-2 was preempted.\n"
        "24/06/01 04:21:00 ERROR TaskSetManager: Task 3 in stage 9.0 failed 4 times; aborting job",
    ),
    (
        "dag-import-error",
        "dag-import-error",
        "Broken DAG: [/opt/airflow/dags/orders.py]\nTraceback (most recent call last):\n"
        '  File "/opt/airflow/dags/orders.py", line 3, in <module>\n'
        "    from vendor_sdk import Client\n"
        "ModuleNotFoundError: No module named 'vendor_sdk'",
    ),
    (
        "code-bug",
        "code-bug",
        AIRFLOW_HEAD + "    rate = totals['eur'] / count\n"
        "ZeroDivisionError: division by zero" + AIRFLOW_TAIL,
    ),
    (
        "data-quality",
        "data-quality",
        "09:00:01  Failure in test unique_customers_customer_id (models/schema.yml)\n"
        "09:00:01    Got 3 results, configured to fail if != 0\n"
        "09:00:01  Done. PASS=11 WARN=0 ERROR=1 SKIP=0 TOTAL=12",
    ),
]


def test_every_failure_class_has_a_case() -> None:
    assert {case[0] for case in CLASS_CASES} == set(FAILURE_CLASSES)


@pytest.mark.parametrize(("failure_class", "playbook_id", "text"), CLASS_CASES)
def test_each_class_is_recognised_with_its_playbook(
    engine: RuleEngine, failure_class: str, playbook_id: str, text: str
) -> None:
    diagnosis = engine.diagnose(log(text))

    assert diagnosis.failure_class == failure_class
    assert diagnosis.playbook_id == playbook_id
    assert diagnosis.confidence >= engine.threshold
    assert diagnosis.evidence_lines


@pytest.mark.parametrize(
    ("cause", "consequence", "text"),
    [
        (
            "expired-credential",
            "infra-lost-worker",
            AIRFLOW_HEAD + "botocore.exceptions.ClientError: An error occurred (ExpiredToken) "
            "when calling the PutObject operation: The provided token has expired.\n"
            "[2024-06-01, 04:05:00 UTC] {scheduler_job_runner.py:1737} ERROR - Detected zombie "
            "job: {'full_filepath': '/opt/airflow/dags/sales/load.py'}\n"
            "[2024-06-01, 04:05:00 UTC] {taskinstance.py:2611} ERROR - Received SIGTERM. "
            "Terminating subprocesses.",
        ),
        (
            "dependency-unavailable",
            "task-timeout",
            "[2024-06-01, 04:01:00 UTC] {connectionpool.py:824} WARNING - Retrying (Retry("
            "total=2)) after connection broken by 'ConnectTimeoutError(<urllib3.connection."
            "HTTPSConnection object at 0x7f>, 'Connection to api.crm.example timed out. (connect"
            " timeout=30)')': /v1/contacts\n"
            "[2024-06-01, 04:02:00 UTC] {connectionpool.py:824} ERROR - Connection to "
            "api.crm.example timed out. (connect timeout=30)\n"
            + AIRFLOW_HEAD
            + "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 77"
            + AIRFLOW_TAIL,
        ),
        (
            "out-of-memory",
            "infra-lost-worker",
            "24/06/01 05:00:00 WARN TaskSetManager: Lost task 1.0 in stage 3.0 (TID 9) (w-1 "
            "executor 2): java.lang.OutOfMemoryError: Java heap space\n"
            "24/06/01 05:00:10 WARN TaskSetManager: Lost task 0.0 in stage 4.0 (TID 12): "
            "FetchFailed(BlockManagerId(2, w-1, 7337, None), shuffleId=0, message=\n"
            "org.apache.spark.shuffle.FetchFailedException: Failed to connect to "
            "w-1/10.0.0.2:7337\n"
            "24/06/01 05:01:00 ERROR TaskSetManager: Task 1 in stage 3.1 failed 4 times; aborting",
        ),
        (
            "dag-import-error",
            "task-timeout",
            "[2024-06-01T04:00:30.000+0000] {dagbag.py:351} ERROR - Failed to import: "
            "/opt/airflow/dags/tenants.py\nTraceback (most recent call last):\n"
            "airflow.exceptions.AirflowTaskTimeout: DagBag import timeout for "
            "/opt/airflow/dags/tenants.py after 30.0s.",
        ),
        (
            "missing-input",
            "task-timeout",
            AIRFLOW_HEAD + "airflow.exceptions.AirflowSensorTimeout: Sensor has timed out; run "
            "duration of 3600.1 seconds exceeds the specified timeout of 3600.0." + AIRFLOW_TAIL,
        ),
    ],
)
def test_root_cause_beats_its_consequence(
    engine: RuleEngine, cause: str, consequence: str, text: str
) -> None:
    diagnosis = engine.diagnose(log(text))

    assert diagnosis.failure_class == cause
    scores = {item.failure_class: item.score for item in diagnosis.alternatives}
    assert scores.get(consequence, 0.0) < diagnosis.confidence


@pytest.mark.parametrize(
    "text",
    [
        "[2024-06-01, 04:00:09 UTC] {logging_mixin.py:188} INFO - loaded 120 rows (0 errors)\n"
        "[2024-06-01, 04:00:09 UTC] {taskinstance.py:1206} INFO - Marking task as SUCCESS. "
        "dag_id=sales, task_id=load",
        "2024-06-01 04:00:00,000 INFO job: wrote error_summary table; error_count=0\n"
        "2024-06-01 04:00:01,000 INFO job: finished without errors",
        "2024-06-01 04:00:00,000 WARNING botocore: ThrottlingException on PutRecords, retrying\n"
        "2024-06-01 04:00:02,000 INFO job: 5,000 records delivered",
        "24/06/01 04:00:00 WARN TaskSetManager: Lost task 2.0 in stage 1.0 (TID 5) (w-3 "
        "executor 1): ExecutorLostFailure (executor 1 exited unrelated to the running tasks)\n"
        "24/06/01 04:02:00 INFO DAGScheduler: Job 1 finished: save at Load.scala:20, took 120 s",
        AIRFLOW_HEAD + "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable\n"
        "[2024-06-01, 04:10:00 UTC] {taskinstance.py:1206} INFO - Marking task as SUCCESS. "
        "dag_id=sales, task_id=load",
        "09:00:01  Warning in test accepted_values_orders_status (models/schema.yml)\n"
        "09:00:01  Got 2 results, configured to warn if != 0\n"
        "09:00:02  Done. PASS=11 WARN=1 ERROR=0 SKIP=0 TOTAL=12",
    ],
    ids=[
        "zero-errors",
        "error-table",
        "warned-throttle",
        "lost-task-recovered",
        "retry-ok",
        "dbt-warn",
    ],
)
def test_benign_text_gives_no_incident_class(engine: RuleEngine, text: str) -> None:
    diagnosis = engine.diagnose(log(text))

    assert diagnosis.failure_class == NOT_AN_INCIDENT
    assert diagnosis.playbook_id is None
    assert diagnosis.is_unknown


@pytest.mark.parametrize(
    "text",
    [
        AIRFLOW_HEAD
        + "acme.pipeline.errors.ReconciliationMismatch: ledger 4411 off by 12.00"
        + AIRFLOW_TAIL,
        AIRFLOW_HEAD + "ValueError: invalid literal for int() with base 10: 'N/A'" + AIRFLOW_TAIL,
        AIRFLOW_HEAD + "botocore.exceptions.ClientError: An error occurred (ExpiredToken) when "
        "calling the GetObject operation\nOSError: [Errno 28] No space left on device"
        + AIRFLOW_TAIL,
    ],
    ids=["unnamed-exception", "ambiguous-valueerror", "two-strong-causes"],
)
def test_failure_without_a_clear_class_abstains(engine: RuleEngine, text: str) -> None:
    diagnosis = engine.diagnose(log(text))

    assert diagnosis.failure_class == UNKNOWN
    assert diagnosis.playbook_id is None
    assert diagnosis.confidence < engine.threshold


def test_abstention_lists_the_candidates_it_ruled_out(engine: RuleEngine) -> None:
    text = CLASS_CASES[1][2] + "\nOSError: [Errno 28] No space left on device"

    diagnosis = engine.diagnose(log(text))

    assert {item.failure_class for item in diagnosis.alternatives} >= {
        "expired-credential",
        "disk-full",
    }
    assert "expired-credential" in diagnosis.summary


def test_higher_threshold_turns_a_weak_answer_into_unknown(catalogue: Catalogue) -> None:
    strict = RuleEngine(catalogue, threshold=0.99)

    diagnosis = strict.diagnose(log(AIRFLOW_HEAD + "IndexError: list index out of range"))

    assert diagnosis.failure_class == UNKNOWN


def test_summary_fills_placeholders_from_context_and_matched_groups(engine: RuleEngine) -> None:
    diagnosis = engine.diagnose(
        log(CLASS_CASES[0][2]), context={"dag_id": "finance", "task_id": "net_revenue"}
    )

    assert diagnosis.values["column"] == "net_amount"
    assert "(column `net_amount`)" in diagnosis.summary
    assert diagnosis.values["dag_id"] == "finance"
    assert "UNRESOLVED_COLUMN" in diagnosis.values["matched_line"]
    assert "`" not in diagnosis.values["matched_line"]


def test_task_named_by_the_airflow_log_fills_the_summary(engine: RuleEngine) -> None:
    diagnosis = engine.diagnose(log(CLASS_CASES[6][2]))

    assert diagnosis.summary.startswith("sales.load ran out of disk space")
    assert diagnosis.values["task_id"] == "load"


def test_missing_placeholder_reads_as_its_name(engine: RuleEngine) -> None:
    diagnosis = engine.diagnose(log("OSError: [Errno 28] No space left on device"))

    assert diagnosis.summary.startswith("<dag_id>.<task_id> ran out of disk space")


def test_evidence_lines_give_source_and_position(engine: RuleEngine) -> None:
    evidence = [
        Evidence(source="alert", text="Airflow task failed: sales.load"),
        Evidence(source="airflow", text=CLASS_CASES[1][2]),
    ]

    diagnosis = engine.diagnose(evidence)

    line = diagnosis.evidence_lines[0]
    assert line.source == "airflow"
    assert line.line_number == 5
    assert "(ExpiredToken)" in line.text


def test_collector_notes_are_kept(engine: RuleEngine) -> None:
    evidence = [
        Evidence(source="spark", note="The Spark History Server did not answer in time."),
        *log(CLASS_CASES[6][2]),
    ]

    diagnosis = engine.diagnose(evidence)

    assert diagnosis.notes == ["The Spark History Server did not answer in time."]
    assert diagnosis.failure_class == "disk-full"


@pytest.mark.parametrize(
    ("context", "expected"),
    [({"platform": "spark"}, "out-of-memory-spark"), ({}, "out-of-memory-airflow")],
)
def test_platform_chooses_between_playbook_variants(
    engine: RuleEngine, context: dict[str, str], expected: str
) -> None:
    text = AIRFLOW_HEAD + "MemoryError: Unable to allocate 3.1 GiB" + AIRFLOW_TAIL

    diagnosis = engine.diagnose(log(text), context=context)

    assert diagnosis.playbook_id == expected


def test_empty_evidence_is_no_incident(engine: RuleEngine) -> None:
    diagnosis = engine.diagnose([Evidence(source="airflow", note="Airflow could not be reached.")])

    assert diagnosis.failure_class == NOT_AN_INCIDENT
    assert diagnosis.notes == ["Airflow could not be reached."]


# Values the matched lines do not carry are looked up in the whole evidence text.

AIRFLOW3_EXPIRED_TOKEN = (
    "Airflow task instance orders_pipeline.load_orders run manual__2026-12-03T19:02:00+00:00: "
    "state=failed, try_number=1, max_tries=0, hostname=sandbox, operator=PythonOperator\n"
    "Log of try 1:\n"
    "[2026-12-03T19:02:11.402118Z] INFO airflow.models.dagbag.DagBag - Filling up the DagBag "
    "from /opt/airflow/dags/orders_pipeline.py\n"
    "[2026-12-03T19:02:11.733050Z] INFO task.stdout - Reading /data/staging/orders.parquet\n"
    "[2026-12-03T19:02:11.733512Z] INFO task.stdout - Using connection ID {conn} for task "
    "execution.\n"
    "[2026-12-03T19:02:11.901277Z] INFO botocore.credentials - Found credentials in "
    "environment variables.\n"
    "[2026-12-03T19:02:12.118734Z] ERROR task - Task failed with exception\n"
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/dags/orders_pipeline.py", line 84, in load_orders\n'
    '  File "/opt/sandbox/lib/python3.11/site-packages/botocore/client.py", line 1023, in '
    "_make_api_call\n"
    "botocore.exceptions.ClientError: An error occurred (ExpiredToken) when calling the "
    "PutObject operation: The provided token has expired.{matched_extra}\n"
    "[2026-12-03T19:02:12.140391Z] INFO task - Task instance in failure state "
    "ti_id=0193c2f1 state=failed\n"
)


def build_expired_token_log(conn: str = "'orders_lake'", matched_extra: str = "") -> str:
    return AIRFLOW3_EXPIRED_TOKEN.format(conn=conn, matched_extra=matched_extra)


def test_connection_id_on_a_line_of_its_own_fills_the_expired_credential_values(
    engine: RuleEngine,
) -> None:
    evidence = [Evidence(source="airflow", text=build_expired_token_log())]

    diagnosis = engine.diagnose(evidence, context={"dag_id": "orders_pipeline"})

    assert diagnosis.playbook_id == "expired-credential"
    assert diagnosis.values["conn_id"] == "orders_lake"
    assert "(connection `orders_lake`)" in diagnosis.summary
    assert all("Using connection ID" not in line.text for line in diagnosis.evidence_lines)


def test_connection_id_on_the_matched_line_wins_over_one_elsewhere(engine: RuleEngine) -> None:
    text = build_expired_token_log(matched_extra=" (conn_id=lake_writer)")

    diagnosis = engine.diagnose(log(text))

    assert diagnosis.playbook_id == "expired-credential"
    assert diagnosis.values["conn_id"] == "lake_writer"


def test_first_mention_elsewhere_counts_and_no_mention_leaves_the_value_unset(
    engine: RuleEngine,
) -> None:
    twice = build_expired_token_log().replace(
        "Reading /data/staging/orders.parquet",
        "Using connection ID 'orders_raw' for task execution.",
    )
    without = build_expired_token_log(conn="from the environment")

    first = engine.diagnose(log(twice))
    none = engine.diagnose(log(without))

    assert first.values["conn_id"] == "orders_raw"
    assert "conn_id" not in none.values
    assert "(connection `<conn_id>`)" in none.summary


def test_earliest_mention_wins_whichever_extract_pattern_finds_it(engine: RuleEngine) -> None:
    # `conn_id=...` is the playbook's second extract pattern, but it comes first in the log.
    text = build_expired_token_log().replace(
        "Reading /data/staging/orders.parquet", "conn_id=orders_early"
    )

    diagnosis = engine.diagnose(log(text))

    assert diagnosis.values["conn_id"] == "orders_early"
