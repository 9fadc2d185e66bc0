"""The sandbox's layout and commands, checked without starting anything."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bot.chaos.environment import Java, get_spark_home
from bot.chaos.faults import set_fault
from bot.chaos.models import Fault
from bot.chaos.sandbox_home import (
    ADMIN_USER,
    BOT_USER,
    HISTORY_SERVER_CLASS,
    PIPELINE_DAG_ID,
    SPARK_DAG_ID,
    Ports,
    SandboxOptions,
    build_env,
    build_history_server,
    prepare_home,
)
from bot.contracts.service import check_contract, load_contracts
from bot.errors import ConfigError

JAVA_17 = Java(17, "Java 17")
NO_JAVA = Java(None, "no `java` on PATH; Spark needs Java 17 or later")
PORTS = Ports(api=1, moto=2, reference=3, gateway=4, secrets=5, spark_history=18080)


def create_spark_home(venv: Path) -> Path:
    spark_home = venv / "lib" / "python3.11" / "site-packages" / "pyspark"
    (spark_home / "bin").mkdir(parents=True)
    (spark_home / "bin" / "spark-class").write_text("#!/bin/sh\n", encoding="utf-8")
    return spark_home


@pytest.mark.parametrize(("java", "has_spark_dag"), [(JAVA_17, True), (NO_JAVA, False)])
def test_spark_dag_is_laid_out_only_when_java_is_usable(
    tmp_path: Path, java: Java, has_spark_dag: bool
) -> None:
    options = SandboxOptions(root=tmp_path)

    prepare_home(options, java)

    assert (options.dags_dir / "orders_pipeline.py").is_file()
    assert (options.dags_dir / f"{SPARK_DAG_ID}.py").is_file() is has_spark_dag
    assert options.spark_events_dir.is_dir()


def test_a_restart_without_java_removes_the_spark_dag_left_by_an_earlier_start(
    tmp_path: Path,
) -> None:
    options = SandboxOptions(root=tmp_path, fresh=False)
    prepare_home(options, JAVA_17)

    prepare_home(options, NO_JAVA)

    assert not (options.dags_dir / f"{SPARK_DAG_ID}.py").exists()


def test_admin_and_bot_get_distinct_passwords_airflow_reads_from_its_file(
    tmp_path: Path,
) -> None:
    options = SandboxOptions(root=tmp_path)

    passwords = prepare_home(options, NO_JAVA)

    assert set(passwords) == {ADMIN_USER, BOT_USER}
    assert passwords[ADMIN_USER] != passwords[BOT_USER]
    written = json.loads((options.airflow_home / "passwords.json").read_text("utf-8"))
    assert written == passwords


def test_history_server_runs_in_the_foreground_on_loopback_reading_the_event_logs(
    tmp_path: Path,
) -> None:
    options = SandboxOptions(root=tmp_path / "sandbox")
    options.run_dir.mkdir(parents=True)
    spark_home = create_spark_home(options.venv)

    command, env = build_history_server(options.venv / "bin", {"PATH": "/bin"}, options, PORTS)

    assert command[:2] == [str(spark_home / "bin" / "spark-class"), HISTORY_SERVER_CLASS]
    properties = Path(command[-1]).read_text(encoding="utf-8").splitlines()
    assert f"spark.history.ui.port={PORTS.spark_history}" in properties
    events = options.spark_events_dir.resolve().as_uri()
    assert f"spark.history.fs.logDirectory={events}" in properties
    assert env["SPARK_HOME"] == str(spark_home)
    assert env["SPARK_DAEMON_MEMORY"] == "256m"
    assert env["SPARK_PID_DIR"] == env["SPARK_LOG_DIR"] == str(options.run_dir.resolve())


def test_history_server_without_pyspark_in_the_venv_is_a_config_error(tmp_path: Path) -> None:
    options = SandboxOptions(root=tmp_path)
    options.run_dir.mkdir(parents=True)

    assert get_spark_home(options.venv) is None
    with pytest.raises(ConfigError, match="no pyspark"):
        build_history_server(options.venv / "bin", {}, options, PORTS)


@pytest.mark.parametrize(("fault", "is_met"), [("none", True), ("bad-schema", False)])
async def test_bot_reads_the_contract_the_pipeline_enforces_and_checks_the_input(
    tmp_path: Path, fault: Fault, is_met: bool
) -> None:
    options = SandboxOptions(root=tmp_path)
    prepare_home(options, NO_JAVA)
    set_fault(input_dir=options.input_dir, switch_file=options.switch_file, fault=fault)

    contract = load_contracts(options.contracts_dir).get_for_dag(PIPELINE_DAG_ID)
    assert contract is not None
    async with httpx.AsyncClient() as http:
        report = await check_contract(contract, http=http)

    assert Path(contract.input).is_absolute()
    assert report.is_met is is_met
    env = build_env(options, PORTS, options.venv / "bin")
    assert env["CHAOS_CONTRACT_FILE"] == str(options.contract_file.resolve())
