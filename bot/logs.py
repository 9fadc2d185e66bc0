"""Logging set-up, done once at the entry point: JSON lines, or readable lines on a terminal."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from bot.settings import Settings


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route stdlib logging through structlog to `stream` (stderr by default); `extra=`
    fields become structured keys."""
    stream = stream or sys.stderr
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not stream.isatty()
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Access logs repeat what our own lines say; saq logs every job at INFO.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)
