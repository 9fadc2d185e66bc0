from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bot.chaos.processes import start_service, stop_services, stop_stale_groups, stop_stragglers

# A leader with a grandchild: stopping the leader alone would leave the sleep behind.
FAMILY = ["/bin/sh", "-c", "sleep 300 & wait"]


def wait_for_file(path: Path) -> None:
    # The shell tells us it set its trap by creating a file; there is nothing to await.
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def is_alive(group_id: int) -> bool:
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    return True


def test_service_records_its_own_process_group(tmp_path: Path) -> None:
    service = start_service("alone", ["sleep", "300"], env=dict(os.environ), run_dir=tmp_path)
    try:
        recorded = int((tmp_path / "alone.pid").read_text(encoding="utf-8"))

        assert service.group_id == recorded == os.getpgid(service.process.pid)
        assert service.group_id != os.getpgrp()
    finally:
        stop_services([service])


def test_stop_ends_the_whole_group_and_removes_its_pid_file(tmp_path: Path) -> None:
    service = start_service("family", FAMILY, env=dict(os.environ), run_dir=tmp_path)

    stop_services([service])

    assert not is_alive(service.group_id)
    assert not (tmp_path / "family.pid").exists()


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    # An ignored signal stays ignored across exec, so the whole family ignores SIGTERM.
    stubborn = ["/bin/sh", "-c", "trap '' TERM; sleep 300 & touch trapped; wait"]
    service = start_service("stubborn", stubborn, env=dict(os.environ), run_dir=tmp_path)
    wait_for_file(tmp_path / "trapped")

    stop_services([service], grace=0.3)

    assert not is_alive(service.group_id)
    assert service.process.returncode == -signal.SIGKILL


def test_stale_group_left_by_a_crashed_harness_is_stopped(tmp_path: Path) -> None:
    service = start_service("stale", ["sleep", "300"], env=dict(os.environ), run_dir=tmp_path)

    stopped = stop_stale_groups(tmp_path)
    service.process.wait()

    assert stopped == [service.group_id]
    assert not is_alive(service.group_id)


def test_recorded_pid_now_used_elsewhere_is_left_alone(tmp_path: Path) -> None:
    # This test process works in the repository, not in the run folder.
    (tmp_path / "ghost.pid").write_text(str(os.getpid()), encoding="utf-8")

    assert stop_stale_groups(tmp_path) == []
    assert not (tmp_path / "ghost.pid").exists()


@pytest.mark.parametrize("text", ["", "not-a-pid"])
def test_unreadable_pid_file_is_dropped(tmp_path: Path, text: str) -> None:
    (tmp_path / "broken.pid").write_text(text, encoding="utf-8")

    assert stop_stale_groups(tmp_path) == []
    assert list(tmp_path.glob("*.pid")) == []


def test_relative_run_folder_still_records_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    service = start_service("alone", ["sleep", "300"], env=dict(os.environ), run_dir=Path("run"))
    try:
        assert (tmp_path / "run" / "alone.pid").read_text(encoding="utf-8").strip() == str(
            service.group_id
        )
    finally:
        stop_services([service])


def test_process_that_left_its_group_is_stopped_as_a_straggler(tmp_path: Path) -> None:
    # As Airflow does for each task: a child in a session of its own, in the run folder.
    escaping = ["/bin/sh", "-c", "setsid sh -c 'echo $$ > escaped; exec sleep 300' & wait"]
    service = start_service("escaping", escaping, env=dict(os.environ), run_dir=tmp_path)
    wait_for_file(tmp_path / "escaped")
    escaped = int((tmp_path / "escaped").read_text(encoding="utf-8"))

    stop_services([service])
    stopped = stop_stragglers(tmp_path)

    assert stopped == [escaped]
    assert not is_pid_alive(escaped)


def test_processes_working_elsewhere_are_not_stragglers(tmp_path: Path) -> None:
    assert stop_stragglers(tmp_path) == []


def is_pid_alive(pid: int) -> bool:
    # A killed child of init may linger as a zombie for a moment; its state says it is gone.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split()[2]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.01)
    return True
