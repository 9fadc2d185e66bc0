"""Words the Teams adapter adds: cut markers, click answers and start-up errors."""

from __future__ import annotations


def to_cut_marker() -> str:
    return "… (cut to fit Teams' limit)"


def to_parts_left_out(count: int) -> str:
    return f"… {count} more part(s) of this message are not shown (Teams' limit)."


def to_click_done() -> str:
    return "Done."


def to_missing_password() -> str:
    return "TEAMS_APP_ID is set but TEAMS_APP_PASSWORD is not; set both."


def to_no_conversation(channel: str) -> str:
    return (
        f"No Teams conversation for channel {channel!r}: give its routing rule a "
        "teams_conversation or set TEAMS_DEFAULT_CONVERSATION."
    )
