"""Every word the console itself shows people; incident text comes from the incident flows."""

from __future__ import annotations

from collections.abc import Sequence

_SAMPLE_LABELS = {
    "datadog": "Send a Datadog monitor alert",
    "cloudwatch": "Send a CloudWatch alarm",
    "airflow": "Send an Airflow task failure",
}


def to_sample_label(kind: str) -> str:
    return _SAMPLE_LABELS.get(kind, f"Send a sample {kind} alert")


def to_unknown_sample(kind: str, kinds: Sequence[str]) -> str:
    return f"There is no sample alert '{kind}'; choose one of: {', '.join(kinds)}."


def to_thread_not_found(root_id: str) -> str:
    return f"There is no console thread {root_id}; it may have been posted to another Redis."


def to_private_label() -> str:
    return "Only visible to you"


def to_updated_label() -> str:
    return "edited"


def to_bot_name() -> str:
    return "incident-bot"


def to_token_missing() -> str:
    return (
        "This console needs its access token. Open it once as /console?token=... with the "
        "CONSOLE_TOKEN setting; the browser then keeps it in a cookie."
    )


def to_token_wrong() -> str:
    return "That console token is wrong. Use the value of the CONSOLE_TOKEN setting."


def to_cross_site_refused() -> str:
    return (
        "Refused: this request did not come from the console page itself. "
        "Reload the console and try again."
    )


def to_host_refused(host: str) -> str:
    return (
        f"Refused: the console is bound to a loopback address and does not answer for host "
        f"'{host}'. Open it at http://127.0.0.1 or http://localhost instead."
    )


def to_asset_not_found(name: str) -> str:
    return f"The console has no file '{name}'."
