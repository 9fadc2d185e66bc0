"""Prometheus metrics shared by the webhooks and the flows."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ALERTS = Counter(
    "incident_bot_alerts_total", "Alerts received, by source and outcome.", ["source", "outcome"]
)
INCIDENTS = Counter("incident_bot_incidents_total", "Alerts placed, by outcome.", ["outcome"])
CHAT_CALLS = Histogram(
    "incident_bot_chat_call_seconds", "Duration of calls to chat platforms.", ["platform"]
)
