"""Realistic vendor payloads kept as JSON files in tests/alerts/payloads/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


def read_payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def to_body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
