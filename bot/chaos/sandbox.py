"""A real Airflow 3 on loopback with the orders pipelines and their fault-switched services.

    async with open_sandbox(SandboxOptions(root=Path("var/chaos"))) as sandbox:
        sandbox.set_fault("bad-schema")
        run = await sandbox.run_dag("orders_pipeline")

The lean start (db migrate, api-server, scheduler without its log server, dag-processor,
no triggerer) keeps every listener on 127.0.0.1. With Java 17 or later the PySpark DAG and
a Spark History Server join them; without it both are left out and the reason logged.
Each long-running process gets its own process group, recorded, and exactly those groups
are stopped on the way out, also after Ctrl+C or an exception.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from bot.chaos import messages
from bot.chaos.airflow_api import DagRun, SandboxApi, SandboxApiError
from bot.chaos.environment import Java, ensure_venv, get_java, get_requirements, get_spark_home
from bot.chaos.faults import set_fault
from bot.chaos.models import Fault
from bot.chaos.processes import (
    Service,
    start_service,
    stop_services,
    stop_stale_groups,
    stop_stragglers,
)
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
# Known limit: the callback is read from the source tree's docs/, so the sandbox runs from a
# checkout (an editable install), not from a built wheel.
CALLBACK_FILE = PACKAGE_DIR.parents[1] / "docs" / "airflow_callback.py"
CONTRACT_FILE = PACKAGE_DIR / "contract.yaml"
HOST = "127.0.0.1"
ADMIN_USER = "admin"
BOT_USER = "bot"
BUCKET = "orders-lake"
PIPELINE_DAG_ID = "orders_pipeline"
SPARK_DAG_ID = "orders_spark_rollup"
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"
# Set as the daemon's heap (SPARK_DAEMON_MEMORY); -Xmx in SPARK_HISTORY_OPTS is overridden.
HISTORY_SERVER_MEMORY = "256m"
HEALTH_POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0
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


@dataclass
class Sandbox:
    """A running sandbox: its API, the bot's credentials, its folders and its processes.

    `api` is logged in as the bot (role op); `admin_api` as the harness's own admin account,
    so Airflow's event log tells the harness's writes from the bot's.
    """

    options: SandboxOptions
    ports: Ports
    java: Java
    api: SandboxApi
    admin_api: SandboxApi
    services: list[Service]

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def username(self) -> str:
        return self.api.username

    @property
    def password(self) -> str:
        return self.api.password

    @property
    def dags_dir(self) -> Path:
        return self.options.dags_dir

    @property
    def reference_url(self) -> str:
        return f"http://{HOST}:{self.ports.reference}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports.gateway}"

    @property
    def secrets_url(self) -> str:
        return f"http://{HOST}:{self.ports.secrets}"

    @property
    def credential_rotation_url(self) -> str:
        """The secrets service's rotation endpoint: a POST lifts `expired-credential`."""
        return f"{self.secrets_url}/secrets/rotate"

    @property
    def has_spark(self) -> bool:
        return self.java.is_usable

    @property
    def spark_history_url(self) -> str | None:
        """The Spark History Server, or None when Java is missing and Spark is left out."""
        return f"http://{HOST}:{self.ports.spark_history}" if self.has_spark else None

    async def get_rotations(self, *, after: datetime) -> list[dict[str, Any]]:
        """The secrets service's credential rotations since `after`, oldest first."""
        url = f"{self.secrets_url}/secrets/rotations"
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
        logger.info("sandbox secrets GET /secrets/rotations: %d", response.status_code)
        response.raise_for_status()
        rotations: list[dict[str, Any]] = response.json()["rotations"]
        return [item for item in rotations if datetime.fromisoformat(item["rotated_at"]) >= after]

    def set_fault(self, fault: Fault) -> None:
        """Switch the pipeline's surroundings to `fault`; `none` clears every fault."""
        set_fault(
            input_dir=self.options.input_dir, switch_file=self.options.switch_file, fault=fault
        )

    async def run_dag(self, dag_id: str = PIPELINE_DAG_ID, *, within: float = 300.0) -> DagRun:
        """Trigger a manual run of `dag_id` as the harness (admin) and wait up to `within` s."""
        run_id = await self.admin_api.create_dag_run(dag_id)
        return await self.admin_api.wait_for_dag_run(dag_id, run_id, within=within)


@asynccontextmanager
async def open_sandbox(
    options: SandboxOptions, *, console: Console | None = None
) -> AsyncIterator[Sandbox]:
    """Install (first use), start and health-check the sandbox; stop it on the way out.

    Raises ConfigError when the install fails or the sandbox is not healthy in time.
    """
    java = get_java()
    if not java.is_usable:
        logger.warning(messages.to_java_missing(java.reason))
    venv_bin = await asyncio.to_thread(
        ensure_venv, options.venv.resolve(), get_requirements(java), console=console
    )
    ports = Ports(*(get_free_port() for _ in range(6)))
    passwords = prepare_home(options, java)
    env = build_env(options, ports, venv_bin)
    services: list[Service] = []
    api_url = f"http://{HOST}:{ports.api}"
    api = SandboxApi(api_url, username=BOT_USER, password=passwords[BOT_USER])
    admin_api = SandboxApi(api_url, username=ADMIN_USER, password=passwords[ADMIN_USER])
    sandbox = Sandbox(options, ports, java, api, admin_api, services)
    try:
        await asyncio.to_thread(migrate_db, venv_bin, env, options)
        services.extend(start_all(venv_bin, env, options, ports, java))
        await wait_until_healthy(sandbox)
        yield sandbox
    finally:
        # Stopped before anything else can fail or be interrupted on the way out.
        await asyncio.shield(asyncio.to_thread(stop_all, services, options.run_dir))
        await api.aclose()
        await admin_api.aclose()


def stop_all(services: list[Service], run_dir: Path) -> None:
    """The recorded groups, then whatever still works in the run folder (a task's process)."""
    stop_services(services)
    stop_stragglers(run_dir)


def get_free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


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


def migrate_db(venv_bin: Path, env: dict[str, str], options: SandboxOptions) -> None:
    started = time.monotonic()
    log = options.run_dir / "db-migrate.log"
    with log.open("wb") as output:
        result = subprocess.run(  # noqa: S603 - the sandbox venv's own airflow
            [str(venv_bin / "airflow"), "db", "migrate"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise ConfigError(messages.to_process_exited("db migrate", result.returncode, log))
    logger.info("sandbox airflow db migrate: done in %.0f s", time.monotonic() - started)


def start_all(
    venv_bin: Path, env: dict[str, str], options: SandboxOptions, ports: Ports, java: Java
) -> list[Service]:
    airflow = str(venv_bin / "airflow")
    python = str(venv_bin / "python")
    commands = {
        "moto": [str(venv_bin / "moto_server"), "-H", HOST, "-p", str(ports.moto)],
        "fault-services": [
            python,
            str(PACKAGE_DIR / "fault_services.py"),
            str(options.switch_file.resolve()),
            str(ports.reference),
            str(ports.gateway),
            str(ports.secrets),
            f"http://{HOST}:{ports.moto}",
        ],
        "api-server": [airflow, "api-server"],
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
    }
    envs = dict.fromkeys(commands, env)
    if java.is_usable:
        commands["spark-history"], envs["spark-history"] = build_history_server(
            venv_bin, env, options, ports
        )
    services = []
    try:
        for name, command in commands.items():
            services.append(start_service(name, command, env=envs[name], run_dir=options.run_dir))
    except BaseException:
        stop_services(services)
        raise
    return services


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


async def wait_until_healthy(sandbox: Sandbox) -> None:
    """Wait for the services, Airflow's components and the parsed DAGs."""
    timeout = sandbox.options.start_timeout
    deadline = time.monotonic() + timeout
    detail = "not started"
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline:
            check_running(sandbox.services)
            try:
                detail = await get_unready(sandbox, client)
            except (httpx.HTTPError, SandboxApiError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
            if not detail:
                logger.info("sandbox healthy: %s", sandbox.api_url)
                return
            await asyncio.sleep(HEALTH_POLL_SECONDS)
    raise ConfigError(messages.to_not_healthy(timeout, detail))


async def get_unready(sandbox: Sandbox, client: httpx.AsyncClient) -> str:
    """What is not ready yet, or an empty string when everything is."""
    if (await client.get(f"{sandbox.reference_url}/healthz")).status_code != 200:
        return "reference service"
    # Creating the bucket through the gateway proves the gateway and moto both answer.
    bucket = await client.put(f"{sandbox.s3_endpoint}/{BUCKET}")
    if bucket.status_code not in (200, 409):
        return f"S3 gateway: {bucket.status_code}"
    health = await sandbox.api.get_health()
    for component in ("metadatabase", "scheduler", "dag_processor"):
        status = (health.get(component) or {}).get("status")
        if status != "healthy":
            return f"airflow {component}: {status}"
    if (await client.get(f"{sandbox.secrets_url}/healthz")).status_code != 200:
        return "secrets service"
    if sandbox.spark_history_url is not None:
        applications = await client.get(f"{sandbox.spark_history_url}/api/v1/applications")
        if applications.status_code != 200:
            return f"Spark History Server: {applications.status_code}"
    for dag_id in get_dag_ids(sandbox):
        if await sandbox.api.get_dag(dag_id) is None:
            errors = await sandbox.api.get_import_errors()
            return f"DAG {dag_id} not parsed yet; import errors: {errors}"
    return ""


def get_dag_ids(sandbox: Sandbox) -> list[str]:
    return [PIPELINE_DAG_ID, SPARK_DAG_ID] if sandbox.has_spark else [PIPELINE_DAG_ID]


def check_running(services: list[Service]) -> None:
    for service in services:
        if not service.is_running():
            code = service.process.returncode
            raise ConfigError(messages.to_process_exited(service.name, code, service.log_path))


def main() -> None:
    """Start the sandbox and keep it up until Ctrl+C or SIGTERM: `python -m bot.chaos.sandbox`."""

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with open_sandbox(SandboxOptions()) as sandbox:
            print(messages.to_sandbox_ready(sandbox.api_url, sandbox.username, sandbox.password))
            await stop.wait()

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
