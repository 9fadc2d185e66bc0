"""incident-bot: a ChatOps incident bot for data pipelines."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from bot.audit.cli import audit_app
from bot.chaos.cli import chaos_app
from bot.errors import ConfigError
from bot.eval.cli import eval_app
from bot.runbooks.cli import runbooks_app
from bot.settings import Settings
from bot.tickets.cli import outbox_app
from bot.traces.cli import traces_app

if TYPE_CHECKING:
    from bot.chat.console.adapter import ConsoleChat

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
config_app = typer.Typer(no_args_is_help=True, help="Inspect and generate configuration.")
app.add_typer(config_app, name="config")
app.add_typer(outbox_app, name="outbox")
app.add_typer(runbooks_app, name="runbooks")
app.add_typer(audit_app, name="audit")
app.add_typer(traces_app, name="traces")
app.add_typer(chaos_app, name="chaos")
# Unnamed: its one command, `eval`, sits at the top level.
app.add_typer(eval_app)
# Seconds uvicorn waits for open requests on shutdown before it closes them.
SHUTDOWN_GRACE_SECONDS = 5


def _load_settings(**overrides: object) -> Settings:
    settings = Settings()
    changes = {name: value for name, value in overrides.items() if value is not None}
    return settings.model_copy(update=changes) if changes else settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind to.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve webhooks, Slack, the console, /healthz, /readyz and /metrics."""
    settings = _load_settings(host=host, port=port)
    _run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from bot.app import create_app
    from bot.logs import configure_logging
    from bot.runtime import open_runtime

    configure_logging(settings)
    async with open_runtime(settings) as runtime:
        config = uvicorn.Config(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            log_config=None,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
        server = ConsoleAwareServer(config, console=runtime.console)
        typer.echo(f"incident-bot console: {settings.base_url}/console", err=True)
        # uvicorn re-raises the signal that stopped it once it is done; SIGTERM's default
        # action would then end the process before the runtime saves and stops its Redis.
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            await server.serve()
        finally:
            signal.signal(signal.SIGTERM, previous)


class ConsoleAwareServer(uvicorn.Server):
    """A uvicorn server that ends the console's event streams when asked to stop.

    uvicorn waits for every open response before it exits, and a console tab keeps one
    open for as long as it lives, so without this Ctrl+C hangs while a tab is open.
    """

    def __init__(self, config: uvicorn.Config, *, console: ConsoleChat) -> None:
        super().__init__(config)
        self.console = console

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.console.close()
        super().handle_exit(sig, frame)


@app.command()
def worker() -> None:
    """Run background jobs in this process (with WORKERS=external and a shared REDIS_URL)."""
    _run(_work(Settings()))


async def _work(settings: Settings) -> None:
    from bot.logs import configure_logging
    from bot.runtime import open_runtime
    from bot.worker import build_worker, stop_worker

    configure_logging(settings)
    async with open_runtime(settings) as runtime:
        job_worker = build_worker(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(job_worker.start())
        await stop.wait()
        await stop_worker(task)


@config_app.command("env-example")
def env_example(
    output: Annotated[Path, typer.Option(help="File to write.")] = Path(".env.example"),
) -> None:
    """Write .env.example from the settings model."""
    from bot.envfile import write_env_example

    write_env_example(output)
    typer.echo(f"wrote {output}")


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(main)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
