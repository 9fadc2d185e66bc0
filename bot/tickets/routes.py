"""`POST /webhooks/jira`: comments and status changes made in Jira, into incident threads."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.incidents.flows import RequestSync
from bot.incidents.store import IncidentStore
from bot.settings import Settings
from bot.tickets import inbound, webhook
from bot.tickets.service import TicketService


def build_jira_router(
    *,
    settings: Settings,
    store: IncidentStore,
    tickets: TicketService | None,
    request_sync: RequestSync,
) -> APIRouter:
    """The Jira webhook; it only touches Redis, so it answers in milliseconds.

    202 when a change joined an incident's timeline, 200 when there was nothing to add (the
    bot's own change, an issue that is no incident's, a redelivery, another event).
    """
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.post("/jira")
    async def handle_jira(request: Request) -> JSONResponse:
        body = await request.body()
        webhook.authenticate(
            request.headers, request.query_params, body, secret=settings.jira_webhook_secret
        )
        changes = webhook.parse(body)
        if tickets is None or not changes:
            return JSONResponse({"status": "ignored", "changes": []})

        results = []
        for change in changes:
            outcome, incident_id = await inbound.handle_jira_change(
                change, store=store, tickets=tickets, request_sync=request_sync
            )
            results.append({"kind": change.kind, "status": outcome, "incident_id": incident_id})
        added = any(result["status"] is inbound.Inbound.ADDED for result in results)
        return JSONResponse(
            {"status": "queued" if added else "ignored", "changes": results}, 202 if added else 200
        )

    return router
