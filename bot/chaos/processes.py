"""Long-running sandbox services, each in its own process group, stopped exactly.

The child writes its own pid before it execs: after `setsid` that pid is the group id,
which the parent cannot always infer when it is itself a group leader.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# `$0` is the pid file, `$@` the command; `exec` keeps the pid, so it stays the group id.
LAUNCHER = 'echo $$ > "$0" && exec "$@"'
PID_WAIT_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1


@dataclass
class Service:
    """One started service: its name, process group id, log file and process handle."""

    name: str
    group_id: int
    log_path: Path
    pid_file: Path
    process: subprocess.Popen[bytes]

    def is_running(self) -> bool:
        return self.process.poll() is None


def start_service(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    run_dir: Path,
) -> Service:
    """Start `command` in a new session, working in `run_dir`; record its group id there."""
    run_dir = run_dir.resolve()
    pid_file = run_dir / f"{name}.pid"
    pid_file.unlink(missing_ok=True)
    log_path = run_dir / f"{name}.log"
    # One start's output per file: the last run is the one worth reading.
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the sandbox's own fixed commands
            ["/bin/sh", "-c", LAUNCHER, str(pid_file), *command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=run_dir,
            start_new_session=True,
        )
    group_id = read_group_id(pid_file, process)
    logger.info("sandbox service started: %s, process group %d", name, group_id)
    return Service(name, group_id, log_path, pid_file, process)


def read_group_id(pid_file: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + PID_WAIT_SECONDS
    while time.monotonic() < deadline:
        text = pid_file.read_text(encoding="utf-8").strip() if pid_file.exists() else ""
        if text.isdigit():
            return int(text)
        if process.poll() is not None:
            break
        time.sleep(POLL_SECONDS)
    # The launcher died before writing: it ran in its own session, so its pid is the group.
    return process.pid


def stop_services(services: Sequence[Service], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every recorded group, then SIGKILL the ones still alive after `grace` s."""
    for service in services:
        send(service.group_id, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in services:
        if not wait_for_exit(service, deadline):
            logger.warning("sandbox service %s ignored SIGTERM; killing it", service.name)
            send(service.group_id, signal.SIGKILL)
            # Orphans of a killed leader are reaped by init, which takes a moment.
            wait_for_exit(service, time.monotonic() + KILL_WAIT_SECONDS)
        service.process.wait()
        service.pid_file.unlink(missing_ok=True)
        logger.info("sandbox service stopped: %s, process group %d", service.name, service.group_id)


def wait_for_exit(service: Service, deadline: float) -> bool:
    while is_group_alive(service):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def is_group_alive(service: Service) -> bool:
    # Reap the leader first: a zombie leader still counts as a member of its group.
    service.process.poll()
    try:
        os.killpg(service.group_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def send(group_id: int, signal_number: signal.Signals) -> None:
    try:
        os.killpg(group_id, signal_number)
    except ProcessLookupError:
        pass


def stop_stale_groups(run_dir: Path) -> list[int]:
    """Kill groups a crashed earlier harness recorded in `run_dir`; return their ids.

    A recorded id counts only while its leader still works in `run_dir` (every service
    starts there), so a pid the system has since reused is left alone.
    """
    stopped = []
    for pid_file in run_dir.glob("*.pid"):
        text = pid_file.read_text(encoding="utf-8").strip()
        pid_file.unlink()
        if text.isdigit() and is_working_in(int(text), run_dir):
            send(int(text), signal.SIGKILL)
            stopped.append(int(text))
    if stopped:
        logger.warning("stopped stale sandbox process groups: %s", stopped)
    return stopped


def stop_stragglers(run_dir: Path) -> list[int]:
    """Kill every process still working in `run_dir` once the groups are stopped.

    Airflow runs each task in a process group of its own (and a Spark JVM under it), so
    stopping the recorded groups can leave a running task behind; it inherited the run
    folder as its working folder from the scheduler.
    """
    stopped = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if is_working_in(pid, run_dir):
                kill(pid)
                stopped.append(pid)
    if stopped:
        logger.warning("stopped sandbox processes outside the recorded groups: %s", stopped)
    return stopped


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def is_working_in(pid: int, folder: Path) -> bool:
    # The working folder, not the command line or environment: Airflow's api-server
    # retitles itself, which overwrites both in /proc.
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == folder.resolve()
    except OSError:
        return False
