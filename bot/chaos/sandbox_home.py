"""The sandbox on disk and in its environment: folders, DAGs, passwords, the contract, and
the variables and commands its processes start with. Nothing here starts anything.

    options = SandboxOptions(root=Path("var/chaos"))
    passwords = prepare_home(options, get_java())
    env = build_env(options, ports, venv_bin)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.chaos import messages
from bot.chaos.environment import Java, get_spark_home
from bot.chaos.faults import set_fault
from bot.chaos.ports import HOST
from bot.chaos.processes import stop_stale_groups, stop_stragglers
from bot.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
# Known limit: the callback is read from the source tree's docs/, so the sandbox runs from a
# checkout (an editable install), not from a built wheel.
CALLBACK_FILE = PACKAGE_DIR.parents[1] / "docs" / "airflow_callback.py"
CONTRACT_FILE = PACKAGE_DIR / "contract.yaml"
ADMIN_USER = "admin"
BOT_USER = "bot"
BUCKET = "orders-lake"
PIPELINE_DAG_ID = "orders_pipeline"
SPARK_DAG_ID = "orders_spark_rollup"
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"
# Set as the daemon's heap (SPARK_DAEMON_MEMORY); -Xmx in SPARK_HISTORY_OPTS is overridden.
HISTORY_SERVER_MEMORY = "256m"
# Airflow's SimpleAuthManager signs its JWTs with this; it asks for 64 bytes or more.
JWT_SECRET_BYTES = 64


@dataclass(frozen=True)
class SandboxOptions:
    """Where the sandbox lives and whom the pipeline's failure callback tells."""

    root: Path = Path("var/chaos")
    incident_bot_url: str = ""
    incident_bot_token: str = field(default="", repr=False)
    parallelism: int = 2
    start_timeout: float = 180.0
    # A fresh metadata database per start: no runs or states left over from the last one.
    fresh: bool = True

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def dags_dir(self) -> Path:
        return self.airflow_home / "dags"

    @property
    def input_dir(self) -> Path:
        return self.root / "data" / "input"

    @property
    def staging_dir(self) -> Path:
        return self.root / "data" / "staging"

    @property
    def contracts_dir(self) -> Path:
        """The data contracts, read by the pipeline and by the bot (DATA_CONTRACTS_DIR)."""
        return self.root / "contracts"

    @property
    def contract_file(self) -> Path:
        return self.contracts_dir / "orders.yaml"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def switch_file(self) -> Path:
        return self.run_dir / "faults.json"

    @property
    def spark_events_dir(self) -> Path:
        return self.root / "spark" / "events"


@dataclass(frozen=True)
class Ports:
    api: int
    moto: int
    reference: int
    gateway: int
    secrets: int
    spark_history: int


def prepare_home(options: SandboxOptions, java: Java) -> dict[str, str]:
    """Lay out AIRFLOW_HOME, the DAGs and the input; return each Airflow user's password."""
    if options.run_dir.is_dir():
        stop_stale_groups(options.run_dir)
        stop_stragglers(options.run_dir)
    if options.fresh:
        shutil.rmtree(options.airflow_home, ignore_errors=True)
        shutil.rmtree(options.staging_dir, ignore_errors=True)
        shutil.rmtree(options.spark_events_dir, ignore_errors=True)
    folders = (
        options.dags_dir,
        options.run_dir,
        options.staging_dir,
        options.spark_events_dir,
        options.contracts_dir,
    )
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PACKAGE_DIR / "dags" / f"{PIPELINE_DAG_ID}.py", options.dags_dir)
    spark_dag = options.dags_dir / f"{SPARK_DAG_ID}.py"
    if java.is_usable:
        shutil.copy(PACKAGE_DIR / "dags" / spark_dag.name, spark_dag)
    else:
        spark_dag.unlink(missing_ok=True)
    write_contract(options)
    shutil.copy(CALLBACK_FILE, options.dags_dir)
    # The callback module holds no DAG; skip parsing it.
    (options.dags_dir / ".airflowignore").write_text("airflow_callback.py\n", encoding="utf-8")
    set_fault(input_dir=options.input_dir, switch_file=options.switch_file, fault="none")

    # Airflow generates passwords only for users missing from this file, so ours are known.
    passwords = {ADMIN_USER: secrets.token_urlsafe(16), BOT_USER: secrets.token_urlsafe(16)}
    passwords_file = options.airflow_home / "passwords.json"
    passwords_file.write_text(json.dumps(passwords), encoding="utf-8")
    passwords_file.chmod(0o600)
    return passwords


def write_contract(options: SandboxOptions) -> None:
    """The orders contract with its input's absolute path, where bot and pipeline read it."""
    contract = yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))
    contract["input"] = str((options.input_dir / contract["input"]).resolve())
    options.contract_file.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")


def build_env(options: SandboxOptions, ports: Ports, venv_bin: Path) -> dict[str, str]:
    home = options.airflow_home.resolve()
    api_url = f"http://{HOST}:{ports.api}"
    airflow = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(options.dags_dir.resolve()),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(options.parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin,{BOT_USER}:op",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        # Task workers reach the API server here; without it they try port 8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__WORKERS": "1",
        # Without it the log_url in failure callbacks points at localhost:8080.
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(JWT_SECRET_BYTES),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
    }
    pipeline = {
        "CHAOS_INPUT_DIR": str(options.input_dir.resolve()),
        "CHAOS_STAGING_DIR": str(options.staging_dir.resolve()),
        "CHAOS_CONTRACT_FILE": str(options.contract_file.resolve()),
        "CHAOS_REFERENCE_URL": f"http://{HOST}:{ports.reference}",
        "CHAOS_S3_ENDPOINT": f"http://{HOST}:{ports.gateway}",
        "CHAOS_S3_BUCKET": BUCKET,
        "AWS_ACCESS_KEY_ID": "chaos-sandbox",
        "AWS_SECRET_ACCESS_KEY": "chaos-sandbox",  # moto accepts any key
        "AWS_DEFAULT_REGION": "us-east-1",
        "INCIDENT_BOT_URL": options.incident_bot_url,
        "INCIDENT_BOT_TOKEN": options.incident_bot_token,
        "CHAOS_SPARK_EVENTS_DIR": str(options.spark_events_dir.resolve()),
        # Spark's driver, block manager and the History Server bind here, not on 0.0.0.0.
        "SPARK_LOCAL_IP": HOST,
    }
    inherited = {
        name: os.environ[name] for name in ("HOME", "LANG", "TZ", "JAVA_HOME") if name in os.environ
    }
    return {
        **inherited,
        **airflow,
        **pipeline,
        # `airflow` spawns `airflow ...` subprocesses, so the venv's bin comes first.
        "PATH": f"{venv_bin.resolve()}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(options.dags_dir.resolve()),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def build_history_server(
    venv_bin: Path, env: dict[str, str], options: SandboxOptions, ports: Ports
) -> tuple[list[str], dict[str, str]]:
    """The History Server's command and environment: spark-class in the foreground.

    start-history-server.sh would daemonise it into a group of its own; spark-class execs
    java, so the recorded group is the server's.
    """
    spark_home = get_spark_home(venv_bin.parent)
    if spark_home is None:
        raise ConfigError(messages.to_spark_missing(venv_bin.parent))
    run_dir = options.run_dir.resolve()
    properties = {
        "spark.history.fs.logDirectory": options.spark_events_dir.resolve().as_uri(),
        "spark.history.ui.port": str(ports.spark_history),
        "spark.history.fs.update.interval": "1s",
    }
    properties_file = run_dir / "spark-history.properties"
    properties_file.write_text(
        "".join(f"{key}={value}\n" for key, value in properties.items()), encoding="utf-8"
    )
    spark_env = {
        **env,
        "SPARK_HOME": str(spark_home),
        "SPARK_DAEMON_MEMORY": HISTORY_SERVER_MEMORY,
        "SPARK_PID_DIR": str(run_dir),
        "SPARK_LOG_DIR": str(run_dir),
    }
    command = [
        str(spark_home / "bin" / "spark-class"),
        HISTORY_SERVER_CLASS,
        "--properties-file",
        str(properties_file),
    ]
    return command, spark_env
