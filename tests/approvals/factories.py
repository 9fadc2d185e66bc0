"""A policy with three roles, a Friday-evening and a Christmas freeze, and requests to click."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.approvals.models import ApprovalRequest, create_request_id
from bot.chat.port import ButtonClick
from bot.runbooks.models import ClearTaskInstances, Risk

# A Tuesday morning, outside every freeze below.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ONCALL_GROUP = "S0ONCALL"
LEADS = ("U0LEAD1", "U0LEAD2", "U0LEAD3")
COMMANDER = "U0IC1"

POLICY: dict[str, Any] = {
    "mode": "act",
    "roles": {
        "oncall": {"members": [ONCALL_GROUP, "console:alice"]},
        "oncall-lead": {"members": [*LEADS, "console:bob"]},
        "incident-commander": {"members": [COMMANDER]},
    },
    "approvals": {
        "low": {"roles": ["oncall", "oncall-lead"], "requester_may_approve": True},
        "medium": {"roles": ["oncall-lead"], "open_minutes": 120},
        "high": {"roles": ["oncall-lead"], "approvers_needed": 2, "open_minutes": 30},
    },
    "freeze": {
        "timezone": "UTC",
        "approvers": ["incident-commander"],
        "risks": ["medium", "high"],
        "weekly": [{"name": "Friday evening", "days": ["fri"], "start": "16:00", "end": "08:00"}],
        "dates": [{"name": "Christmas", "start": "2026-12-24", "end": "2026-12-26"}],
    },
}

ACTION = ClearTaskInstances.model_validate(
    {
        "kind": "airflow.clear_task_instances",
        "params": {"dag_id": "sales_daily", "task_ids": ["load_orders"]},
    }
)


def write_policy(folder: Path, data: dict[str, Any], name: str = "policy.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def build_request(risk: Risk = Risk.LOW, **fields: Any) -> ApprovalRequest:
    values: dict[str, Any] = {
        "id": create_request_id(),
        "incident_id": "INC-7",
        "playbook_id": "schema-drift-airflow",
        "step_id": "clear-producer",
        "title": "Clear load_orders",
        "action": ACTION,
        "risk": risk,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=60),
        "attempt": 1,
    }
    return ApprovalRequest.model_validate(values | fields)


def build_click(
    user: str,
    value: str,
    *,
    action: str = "approve",
    platform: str = "slack",
    groups: tuple[str, ...] = (),
) -> ButtonClick:
    return ButtonClick(platform=platform, user=user, action=action, value=value, user_groups=groups)
