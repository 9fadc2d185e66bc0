"""Tell incident-bot when an Airflow task fails (Airflow 2 and 3, standard library only).

Copy this file next to your DAGs (or onto the workers' PYTHONPATH) and attach the callback:

    from airflow_callback import notify_incident_bot, notify_incident_bot_recovered

    with DAG(
        "orders_daily",
        tags=["service:orders", "team:data-platform"],
        default_args={
            "on_failure_callback": notify_incident_bot,
            # Optional: a successful retry or rerun resolves the incident.
            "on_success_callback": notify_incident_bot_recovered,
        },
    ):
        ...

Where it posts comes from environment variables on the workers, or else from Airflow
Variables of the same name in lower case (incident_bot_url, incident_bot_token):

    INCIDENT_BOT_URL    the bot's base URL, e.g. https://incident-bot.example.com
    INCIDENT_BOT_TOKEN  the same value as the bot's AIRFLOW_CALLBACK_TOKEN

DAG tags written `key:value` become alert tags; `service:` and `team:` pick the route.
The callback never raises into Airflow: anything that goes wrong is logged as a warning
in the task log, and the task's own outcome is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/airflow"
TIMEOUT_SECONDS = 10
MAX_EXCEPTION_CHARS = 8000


def notify_incident_bot(context):
    """on_failure_callback: post the failed task instance to incident-bot."""
    _notify(context, state="failed")


def notify_incident_bot_recovered(context):
    """on_success_callback: tell incident-bot the task succeeded, resolving its incident."""
    _notify(context, state="success")


def build_body(context, state):
    """The JSON body incident-bot's /webhooks/airflow expects, from a callback context."""
    ti = context.get("ti") or context["task_instance"]
    dag = context.get("dag")
    task = getattr(ti, "task", None)
    return {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "map_index": getattr(ti, "map_index", -1),
        "state": state,
        "exception": _to_exception_text(context.get("exception"), context.get("reason")),
        "log_url": _get_log_url(ti),
        "logical_date": _to_iso(context.get("logical_date")),
        "owner": getattr(task, "owner", None),
        "tags": sorted(getattr(dag, "tags", None) or []),
    }


def _notify(context, state):
    try:
        base_url = _get_setting("INCIDENT_BOT_URL")
        token = _get_setting("INCIDENT_BOT_TOKEN")
        if not base_url or not token:
            logger.warning("incident-bot: INCIDENT_BOT_URL or INCIDENT_BOT_TOKEN is not set")
            return
        if not base_url.startswith(("http://", "https://")):
            logger.warning("incident-bot: INCIDENT_BOT_URL must start with http:// or https://")
            return
        _post(base_url.rstrip("/") + WEBHOOK_PATH, token, build_body(context, state))
    except Exception:
        # A broken notification must never fail or retry the task it reports on.
        logger.warning("incident-bot: the callback failed", exc_info=True)


def _post(url, token, body):
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in _notify
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            logger.info("incident-bot: %s answered %s", url, response.status)
    except urllib.error.HTTPError as error:
        detail = error.read(500).decode("utf-8", "replace")
        logger.warning("incident-bot: %s refused the alert: %s %s", url, error.code, detail)


def _get_setting(name):
    value = os.environ.get(name)
    if value:
        return value
    try:
        from airflow.sdk import Variable  # Airflow 3
    except ImportError:
        try:
            from airflow.models import Variable  # Airflow 2
        except ImportError:
            return None
    try:
        # The second positional argument is the default in both versions.
        return Variable.get(name.lower(), None)
    except Exception:
        return None


def _get_log_url(ti):
    try:
        return ti.log_url
    except Exception:
        return None


def _to_exception_text(exception, reason):
    if exception is None:
        return str(reason or "")
    if isinstance(exception, BaseException):
        parts = traceback.format_exception(type(exception), exception, exception.__traceback__)
        text = "".join(parts)
    else:
        text = str(exception)
    # The end of a traceback names the error, so that is the part to keep.
    return text[-MAX_EXCEPTION_CHARS:]


def _to_iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else None
