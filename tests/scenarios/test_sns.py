"""CloudWatch alarms through SNS into the bot's real webhook, ending in a console thread.

The signing certificate is a throw-away one served by `CertificateFetcher`; subscription
confirmation goes over real HTTPS to the SNS stand-in behind a CONNECT proxy.
"""

import json

import httpx
import pytest

from bot.alerts.sns import SnsVerifier
from tests.alerts.files import load_payload, to_body
from tests.alerts.keys import CertificateFetcher, build_rsa_key, build_signing_certificate, sign
from tests.alerts.sns_standin import HOST, SnsRequest, SnsStandIn
from tests.scenarios.harness import TOPIC_ARN, build_settings, start_bot

ALARM = json.dumps(load_payload("cloudwatch_metric_alarm.json"))
TEXT_PLAIN = {"Content-Type": "text/plain; charset=UTF-8"}


@pytest.fixture(scope="module")
def signing_key():
    return build_rsa_key()


@pytest.fixture
def fetcher(signing_key):
    return CertificateFetcher(build_signing_certificate(signing_key))


@pytest.fixture
def settings(redis, redis_url):
    return build_settings(redis_url)


@pytest.fixture
def use_fetcher(fetcher):
    def prepare(runtime):
        runtime.sns_verifier = SnsVerifier(fetch_certificate=fetcher)

    return prepare


def build_notification(signing_key, version="2", **changes):
    envelope = load_payload("sns_notification.json") | {"Message": ALARM, "TopicArn": TOPIC_ARN}
    return sign(envelope | changes, signing_key, version)


def build_confirmation(signing_key):
    envelope = load_payload("sns_subscription_confirmation.json") | {"TopicArn": TOPIC_ARN}
    return sign(envelope, signing_key, "1")


async def post_sns(bot, envelope):
    return await bot.client.post(
        "/webhooks/cloudwatch", content=to_body(envelope), headers=TEXT_PLAIN
    )


async def get_stored_keys(bot):
    return await bot.runtime.redis.keys("ib:*") + await bot.runtime.redis.keys("console:*")


@pytest.mark.parametrize("version", ["1", "2"])
async def test_signed_notification_opens_a_console_thread(
    settings, use_fetcher, signing_key, version
):
    async with start_bot(settings, prepare=use_fetcher) as bot:
        response = await post_sns(bot, build_notification(signing_key, version))
        await bot.wait_until_idle()
        [thread] = await bot.runtime.console.store.list_threads()
        view = await bot.runtime.console.store.get_thread(thread.root.id, viewer="nobody")

    assert response.status_code == 202
    assert response.json()["delivery_id"] == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert thread.root.message.header == "INC-1: glue-orders-etl-failed-tasks"
    # Later replies (diagnosis, escalation) may follow; the alert is always the first.
    assert view.messages[0].message.text.startswith("Alert firing")


def flip_a_byte_in_message(envelope):
    return envelope | {"Message": envelope["Message"].replace("ALARM", "ALARN", 1)}


def use_foreign_certificate_host(envelope):
    url = envelope["SigningCertURL"].replace("sns.eu-west-1.amazonaws.com", "sns.evil.example")
    return envelope | {"SigningCertURL": url}


def use_unknown_topic(envelope):
    return envelope | {"TopicArn": "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic"}


@pytest.mark.parametrize(
    ("tamper", "status", "problem"),
    [
        (flip_a_byte_in_message, 401, "signature"),
        (use_foreign_certificate_host, 401, "SigningCertURL"),
        (use_unknown_topic, 403, "allow-list"),
    ],
)
async def test_untrusted_notification_is_refused_and_stores_nothing(
    settings, use_fetcher, signing_key, tamper, status, problem
):
    async with start_bot(settings, prepare=use_fetcher) as bot:
        response = await post_sns(bot, tamper(build_notification(signing_key)))
        keys = await get_stored_keys(bot)
        queued = await bot.runtime.queue.count("queued")

    assert response.status_code == status
    assert problem in response.json()["error"]
    assert keys == []
    assert queued == 0


async def test_redelivered_message_id_answers_200_and_changes_nothing(
    settings, use_fetcher, signing_key
):
    envelope = build_notification(signing_key)
    async with start_bot(settings, prepare=use_fetcher) as bot:
        await post_sns(bot, envelope)
        await bot.wait_until_idle()
        threads_before = await bot.runtime.console.store.list_threads()

        response = await post_sns(bot, envelope)
        await bot.wait_until_idle()
        threads_after = await bot.runtime.console.store.list_threads()
        incidents = await bot.runtime.store.list_recent()

    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert threads_after == threads_before
    assert incidents[0].alert_count == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "JSON"),
        (b'["Notification"]', "object"),
        (to_body({"Type": "Notification", "TopicArn": TOPIC_ARN}), "MessageId"),
    ],
)
async def test_malformed_sns_body_gets_a_4xx_naming_the_problem(settings, body, problem):
    async with start_bot(settings) as bot:
        response = await bot.client.post("/webhooks/cloudwatch", content=body, headers=TEXT_PLAIN)
        keys = await get_stored_keys(bot)

    assert 400 <= response.status_code < 500
    assert problem in response.json()["error"]
    assert keys == []


@pytest.fixture
async def sns_stand_in(tmp_path):
    stand_in = SnsStandIn(tmp_path)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def use_sns_stand_in(sns_stand_in, fetcher):
    """Verify with the throw-away certificate and reach SNS through the stand-in's proxy."""
    async with httpx.AsyncClient(
        proxy=sns_stand_in.proxy_url, verify=sns_stand_in.client_tls, timeout=5
    ) as http:

        def prepare(runtime):
            runtime.sns_verifier = SnsVerifier(fetch_certificate=fetcher)
            runtime.http = http

        yield prepare


async def test_subscription_confirmation_for_allowed_topic_is_confirmed(
    settings, use_sns_stand_in, sns_stand_in, signing_key
):
    sns_stand_in.answer("/", 200, b"<ConfirmSubscriptionResponse/>")
    envelope = build_confirmation(signing_key)
    async with start_bot(settings, prepare=use_sns_stand_in) as bot:
        response = await post_sns(bot, envelope)
        keys = await get_stored_keys(bot)

    assert response.status_code == 200
    assert response.json()["status"] == "subscription confirmed"
    target = envelope["SubscribeURL"].removeprefix(f"https://{HOST}")
    assert sns_stand_in.requests == [SnsRequest(HOST, "GET", target)]
    assert keys == []


async def test_subscription_confirmation_pointing_off_sns_is_refused_without_a_request(
    settings, use_sns_stand_in, sns_stand_in, signing_key
):
    envelope = load_payload("sns_subscription_confirmation.json") | {
        "TopicArn": TOPIC_ARN,
        "SubscribeURL": "https://confirm.evil.example/?Action=ConfirmSubscription",
    }
    async with start_bot(settings, prepare=use_sns_stand_in) as bot:
        response = await post_sns(bot, sign(envelope, signing_key, "2"))

    assert response.status_code == 401
    assert "SubscribeURL" in response.json()["error"]
    assert sns_stand_in.requests == []
