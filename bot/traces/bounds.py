"""Keeping trace steps small: long strings are cut, oversized values replaced by a preview."""

from __future__ import annotations

import json
from typing import Any

TRUNCATED = "_truncated"


def get_size(value: Any) -> int:
    """Bytes of the value's JSON; nothing (None) weighs nothing."""
    return 0 if value is None else len(to_json(value).encode())


def to_bounded(value: Any, *, max_bytes: int, max_chars: int) -> Any:
    """`value` with strings over `max_chars` cut, then as a marked preview if over `max_bytes`.

    A replaced value reads `{"_truncated": true, "size_bytes": n, "preview": "..."}`, the
    preview being the start of its JSON text.
    """
    bounded = _cut_strings(value, max_chars)
    size = get_size(bounded)
    if size <= max_bytes:
        return bounded
    preview = to_json(bounded).encode()[:max_bytes].decode(errors="ignore")
    return {TRUNCATED: True, "size_bytes": size, "preview": preview}


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cut_strings(value: Any, max_chars: int) -> Any:
    if isinstance(value, str) and len(value) > max_chars:
        return f"{value[:max_chars]}… [{TRUNCATED}: {len(value) - max_chars} more chars]"
    if isinstance(value, dict):
        return {key: _cut_strings(item, max_chars) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item, max_chars) for item in value]
    return value
