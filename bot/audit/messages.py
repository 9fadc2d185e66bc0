"""Words the audit log and `incident-bot audit` print: chain faults and export summaries."""

from __future__ import annotations

from pathlib import Path

from bot.audit.models import VerifyResult


def to_unreadable_entry() -> str:
    return "the stored entry is not a JSON object"


def to_seq_gap(*, expected: int, found: object) -> str:
    return f"expected seq {expected}, found {found!r} (an entry is missing or out of place)"


def to_hash_mismatch() -> str:
    return "its hash does not match its content (the entry was altered)"


def to_broken_link(previous_seq: int) -> str:
    if previous_seq == 0:
        return "the first entry's prev_hash is not the genesis hash"
    return f"its prev_hash does not match the hash of entry {previous_seq}"


def to_contention(attempts: int) -> str:
    return f"could not append to the audit log: other writers won {attempts} races in a row"


def to_chain_intact(count: int) -> str:
    return f"audit chain intact: {count} entries"


def to_chain_broken(result: VerifyResult) -> str:
    return f"audit chain broken at seq {result.first_bad_seq}: {result.reason}"


def to_progress_label(path: Path) -> str:
    return f"exporting the audit log to {path}"


def to_exported(count: int, path: Path) -> str:
    return f"exported {count} audit entr{'y' if count == 1 else 'ies'} to {path}"
