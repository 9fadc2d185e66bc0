"""Words the Slack adapter adds to a message when Slack's limits force it to leave text out."""

from __future__ import annotations


def to_cut_marker() -> str:
    return "… (cut to fit Slack's limit)"


def to_blocks_left_out(count: int) -> str:
    return f"… {count} more part(s) of this message are not shown (Slack's limit)."


def to_missing_signing_secret() -> str:
    return "SLACK_SIGNING_SECRET must be set when Slack is on; Slack requests cannot be verified."
