"""The alert webhooks: authenticate, parse, queue, answer in milliseconds."""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.alerts import airflow, cloudwatch, datadog
from bot.alerts.models import Alert
from bot.alerts.service import Ingest
from bot.errors import Forbidden
from bot.settings import Settings

logger = logging.getLogger(__name__)


def build_alert_router(
    *,
    settings: Settings,
    ingest: Ingest,
    sns_verifier: cloudwatch.SnsVerifier,
    http: httpx.AsyncClient,
) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    allowed_topics = {arn.strip() for arn in settings.sns_topic_arns.split(",") if arn.strip()}

    @router.post("/datadog")
    async def handle_datadog(request: Request) -> JSONResponse:
        datadog.authenticate(
            request.headers,
            header_name=settings.datadog_secret_header,
            secret=settings.datadog_secret,
        )
        return await _accept(ingest, datadog.parse(await request.body()))

    @router.post("/airflow")
    async def handle_airflow(request: Request) -> JSONResponse:
        airflow.authenticate(request.headers, token=settings.airflow_callback_token)
        return await _accept(ingest, airflow.parse(await request.body()))

    @router.post("/cloudwatch")
    async def handle_cloudwatch(request: Request) -> JSONResponse:
        envelope = cloudwatch.parse_envelope(await request.body())
        if not cloudwatch.is_topic_allowed(envelope, allowed_topics):
            raise Forbidden(f"SNS topic {envelope.TopicArn} is not on the allow-list")
        await sns_verifier.verify(envelope)
        if envelope.Type == "SubscriptionConfirmation":
            if settings.sns_confirm_subscriptions:
                await cloudwatch.confirm_subscription(envelope, http=http)
                return JSONResponse({"status": "subscription confirmed"})
            return JSONResponse({"status": "subscription left unconfirmed"})
        if envelope.Type != "Notification":
            return JSONResponse({"status": f"{envelope.Type} ignored"})
        return await _accept(ingest, cloudwatch.to_alert(envelope))

    return router


async def _accept(ingest: Ingest, alert: Alert) -> JSONResponse:
    if await ingest.accept(alert):
        return JSONResponse({"status": "queued", "delivery_id": alert.delivery_id}, 202)
    return JSONResponse({"status": "duplicate", "delivery_id": alert.delivery_id}, 200)
