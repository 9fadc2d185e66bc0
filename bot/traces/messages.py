"""Words `incident-bot traces` prints."""

from __future__ import annotations

from pathlib import Path


def to_not_an_incident(reference: str) -> str:
    return f"{reference!r} names no incident; use INC-12 or 12."


def to_no_trace(incident_id: str) -> str:
    return f"No trace recorded for {incident_id}."


def to_progress_label(path: Path) -> str:
    return f"exporting traces to {path}"


def to_exported(count: int, path: Path) -> str:
    return f"exported {count} incident trace{'s' if count != 1 else ''} to {path}"
