"""The sandbox's own virtualenv: Airflow 3 and the pipeline's libraries, cached by hash.

Airflow pins many packages of its own, so it never shares the bot's environment. The
folder is rebuilt only when the requirement list (or the Python running it) changes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bot.chaos import messages
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

AIRFLOW_REQUIREMENTS = (
    "apache-airflow==3.3.2",
    "pandas>=2.2",
    "pyarrow>=16",
    "boto3>=1.34",
    "moto[server]>=5.0",
    "requests>=2.31",
)
SPARK_REQUIREMENTS = ("pyspark==4.3.0",)
MIN_JAVA_MAJOR = 17
HASH_FILE = ".requirements-sha256"
# pip's lines that say what it is doing, shown beside the spinner.
PROGRESS_LINE = re.compile(r"^(Collecting|Downloading|Installing|Building|Successfully)\b")


class SandboxInstallError(ConfigError):
    """The sandbox's packages could not be installed (no registry, no disk): nothing ran."""


@dataclass(frozen=True)
class Java:
    """Whether Spark can run here, and why not when it cannot."""

    major: int | None
    reason: str

    @property
    def is_usable(self) -> bool:
        return self.major is not None and self.major >= MIN_JAVA_MAJOR


def get_java() -> Java:
    """Detect `java` on PATH and its major version (`java -version` prints to stderr)."""
    java = shutil.which("java")
    if java is None:
        return Java(None, messages.to_no_java(MIN_JAVA_MAJOR))
    try:
        result = subprocess.run(  # noqa: S603 - the java found on PATH, fixed arguments
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Java(None, messages.to_java_failed(str(exc)))
    major = to_java_major(result.stderr + result.stdout)
    if major is None:
        return Java(None, messages.to_java_failed("it printed no version"))
    if major < MIN_JAVA_MAJOR:
        return Java(major, messages.to_java_too_old(major, MIN_JAVA_MAJOR))
    return Java(major, messages.to_java_found(major))


def to_java_major(version_text: str) -> int | None:
    """The major version in `java -version` output: 17 for "17.0.15", 8 for "1.8.0_392"."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older call themselves 1.x.
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def get_spark_home(venv: Path) -> Path | None:
    """The Spark distribution inside the pyspark wheel (bin/, sbin/, jars/), if installed."""
    for candidate in sorted(venv.glob("lib/python*/site-packages/pyspark")):
        if (candidate / "bin" / "spark-class").is_file():
            return candidate
    return None


def get_requirements(java: Java) -> list[str]:
    spark = SPARK_REQUIREMENTS if java.is_usable else ()
    return [*AIRFLOW_REQUIREMENTS, *spark]


def to_requirements_hash(requirements: list[str]) -> str:
    text = "\n".join([sys.version, *requirements])
    return hashlib.sha256(text.encode()).hexdigest()


def is_current(venv: Path, requirements: list[str]) -> bool:
    hash_file = venv / HASH_FILE
    if not hash_file.is_file():
        return False
    return hash_file.read_text(encoding="utf-8").strip() == to_requirements_hash(requirements)


def ensure_venv(venv: Path, requirements: list[str], *, console: Console | None = None) -> Path:
    """Create or reuse the sandbox virtualenv at `venv`; return its bin folder.

    Raises SandboxInstallError with the end of pip's output when the install fails.
    """
    if is_current(venv, requirements):
        return venv / "bin"
    console = console or Console(stderr=True)
    console.print(messages.to_installing(venv))
    started = time.monotonic()
    # A half-built or outdated environment is not worth repairing.
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    install(venv, requirements, console)
    (venv / HASH_FILE).write_text(to_requirements_hash(requirements) + "\n", encoding="utf-8")
    logger.info("chaos venv installed: %s in %.0f s", venv, time.monotonic() - started)
    return venv / "bin"


def install(venv: Path, requirements: list[str], console: Console) -> None:
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off"]
    tail: deque[str] = deque(maxlen=30)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("starting pip", total=None)
        with subprocess.Popen(  # noqa: S603 - our own venv's pip
            [*command, *requirements],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            for line in process.stdout or ():
                tail.append(line.rstrip())
                if PROGRESS_LINE.match(line):
                    progress.update(task, description=line.strip()[:90])
        code = process.returncode
    if code != 0:
        raise SandboxInstallError(messages.to_install_failed(venv, "\n".join(tail)))
