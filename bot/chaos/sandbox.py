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
import logging
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bot.chaos import messages
from bot.chaos.airflow_api import DagRun, SandboxApi, SandboxApiError
from bot.chaos.environment import Java, ensure_venv, get_java, get_requirements
from bot.chaos.faults import set_fault
from bot.chaos.models import Fault
from bot.chaos.ports import HOST, get_free_ports
from bot.chaos.processes import (
    Service,
    start_service,
    stop_services,
    stop_stragglers,
)
from bot.chaos.sandbox_home import (
    ADMIN_USER,
    BOT_USER,
    BUCKET,
    PACKAGE_DIR,
    PIPELINE_DAG_ID,
    SPARK_DAG_ID,
    Ports,
    SandboxOptions,
    build_env,
    build_history_server,
    prepare_home,
)
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

HEALTH_POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0


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
    ports = Ports(*get_free_ports(6))
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
