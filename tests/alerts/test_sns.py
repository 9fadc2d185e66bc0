import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.alerts import sns
from bot.errors import AuthenticationFailed, BadRequest
from tests.alerts.files import load_payload, to_body
from tests.alerts.keys import (
    CertificateFetcher,
    build_ec_signing_certificate,
    build_rsa_key,
    build_signing_certificate,
    sign,
)
from tests.alerts.sns_standin import HOST, SnsRequest

CERT_PATH = "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
CERT_URL = f"https://{HOST}{CERT_PATH}"
ALARM = json.dumps(load_payload("cloudwatch_metric_alarm.json"))


def build_notification(**changes):
    return load_payload("sns_notification.json") | {"Message": ALARM} | changes


def build_confirmation(**changes):
    return load_payload("sns_subscription_confirmation.json") | changes


def to_envelope(data):
    return sns.parse_envelope(to_body(data))


# The envelope


def test_parse_envelope_reads_a_notification():
    envelope = to_envelope(build_notification())

    assert envelope.Type == "Notification"
    assert envelope.MessageId == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert envelope.TopicArn == "arn:aws:sns:eu-west-1:123456789012:data-pipeline-alarms"
    assert envelope.Subject == 'ALARM: "glue-orders-etl-failed-tasks" in EU (Ireland)'
    assert json.loads(envelope.Message)["AlarmName"] == "glue-orders-etl-failed-tasks"
    assert envelope.SigningCertURL.endswith(".pem")
    assert envelope.UnsubscribeURL is not None


def test_parse_envelope_accepts_lambda_relayed_url_spelling():
    data = build_notification(Subject=None)
    data["SigningCertUrl"] = data.pop("SigningCertURL")
    data["UnsubscribeUrl"] = data.pop("UnsubscribeURL")

    envelope = to_envelope(data)

    assert envelope.SigningCertURL == build_notification()["SigningCertURL"]
    assert envelope.UnsubscribeURL == build_notification()["UnsubscribeURL"]
    assert envelope.Subject is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"Type=Notification", "not valid JSON"),
        (to_body({k: v for k, v in build_notification().items() if k != "MessageId"}), "MessageId"),
        (to_body({k: v for k, v in build_notification().items() if k != "SigningCertURL"}), "Cert"),
        (to_body(build_notification(Type="Gossip")), "Field Type is invalid"),
        (to_body(build_notification(Message={"AlarmName": "x"})), "Field Message is invalid"),
    ],
)
def test_parse_envelope_refuses_malformed_body_naming_the_problem(body, problem):
    with pytest.raises(BadRequest, match=problem):
        sns.parse_envelope(body)


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ({"arn:aws:sns:eu-west-1:123456789012:data-pipeline-alarms"}, True),
        ({"arn:aws:sns:eu-west-1:123456789012:other-topic"}, False),
        (set(), False),
    ],
)
def test_is_topic_allowed_only_for_listed_topics(allowed, expected):
    assert sns.is_topic_allowed(to_envelope(build_notification()), allowed) is expected


# Signatures


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", ["ALARM: orders", None])
async def test_verify_accepts_signed_notification(signing_key, fetcher, version, subject):
    signed = sign(build_notification(Subject=subject), signing_key, version)

    await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))

    assert fetcher.urls == [signed["SigningCertURL"]]


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
async def test_verify_accepts_signed_confirmation(signing_key, fetcher, version, message_type):
    signed = sign(build_confirmation(Type=message_type), signing_key, version)

    await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


async def test_verify_accepts_lambda_relayed_envelope(signing_key, fetcher):
    signed = sign(build_notification(), signing_key, "1")
    signed["SigningCertUrl"] = signed.pop("SigningCertURL")

    await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


@pytest.mark.parametrize("field", ["Message", "MessageId", "Subject", "Timestamp", "TopicArn"])
async def test_verify_refuses_notification_changed_after_signing(signing_key, fetcher, field):
    signed = sign(build_notification(), signing_key, "2")
    signed[field] = signed[field][:-1] + chr(ord(signed[field][-1]) ^ 1)

    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


async def test_verify_refuses_flipped_byte_in_confirmation_subscribe_url(signing_key, fetcher):
    signed = sign(build_confirmation(), signing_key, "1")
    signed["SubscribeURL"] = signed["SubscribeURL"].replace("Token=2", "Token=3")

    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


async def test_verify_refuses_signature_from_another_key(fetcher):
    signed = sign(build_notification(), build_rsa_key(), "2")

    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


async def test_verify_refuses_version_1_signature_presented_as_version_2(signing_key, fetcher):
    signed = sign(build_notification(), signing_key, "1") | {"SignatureVersion": "2"}

    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"SignatureVersion": "3"}, "Unknown SNS SignatureVersion"),
        ({"SignatureVersion": ""}, "Unknown SNS SignatureVersion"),
        ({"Signature": "not base64!"}, "does not verify"),
    ],
)
async def test_verify_refuses_bad_signature_fields_before_any_fetch(
    signing_key, fetcher, changes, problem
):
    signed = sign(build_notification(), signing_key, "2") | changes

    with pytest.raises(AuthenticationFailed, match=problem):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))

    assert fetcher.urls == []


async def test_verify_refuses_empty_signature(signing_key, fetcher):
    signed = sign(build_notification(), signing_key, "2") | {"Signature": ""}

    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


@pytest.mark.parametrize(
    "url",
    [
        f"http://{HOST}{CERT_PATH}",
        f"https://sns.evil.com{CERT_PATH}",
        f"https://{HOST}.evil.com{CERT_PATH}",
        f"https://evil.com/{HOST}{CERT_PATH}",
        f"https://evil.com?{HOST}{CERT_PATH}",
        f"https://{HOST}/SimpleNotificationService.txt",
        f"https://{HOST}/cert.pem.txt",
        f"https://{HOST}:8443{CERT_PATH}",
        f"https://attacker@{HOST}{CERT_PATH}",
        f"https://s3.us-east-1.amazonaws.com{CERT_PATH}",
        f"https://sns.us-east-1.amazonaws.co{CERT_PATH}",
        "",
    ],
)
async def test_verify_refuses_untrusted_certificate_url_before_fetching(signing_key, fetcher, url):
    signed = sign(build_notification(SigningCertURL=url), signing_key, "2")

    with pytest.raises(AuthenticationFailed, match="SigningCertURL"):
        await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))

    assert fetcher.urls == []


@pytest.mark.parametrize(
    "host",
    [
        "sns.us-east-1.amazonaws.com",
        "sns.cn-north-1.amazonaws.com.cn",
        "sns.us-gov-west-1.amazonaws.com",
    ],
)
async def test_verify_trusts_sns_hosts_in_every_partition(signing_key, fetcher, host):
    signed = sign(build_notification(SigningCertURL=f"https://{host}{CERT_PATH}"), signing_key, "1")

    await sns.SnsVerifier(fetch_certificate=fetcher).verify(to_envelope(signed))


async def test_verify_fetches_each_certificate_once(signing_key, fetcher):
    verifier = sns.SnsVerifier(fetch_certificate=fetcher)
    for message_id in ("a", "b", "c"):
        signed = sign(build_notification(MessageId=message_id), signing_key, "2")
        await verifier.verify(to_envelope(signed))

    assert fetcher.urls == [CERT_URL.replace("us-east-1", "eu-west-1")]


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        (b"<Error><Code>AccessDenied</Code></Error>", "not PEM"),
        (build_ec_signing_certificate(), "not an RSA key"),
    ],
)
async def test_verify_refuses_unusable_certificate(signing_key, pem, problem):
    signed = sign(build_notification(), signing_key, "2")
    verifier = sns.SnsVerifier(fetch_certificate=CertificateFetcher(pem))

    with pytest.raises(AuthenticationFailed, match=problem):
        await verifier.verify(to_envelope(signed))


@pytest.mark.parametrize(
    "valid_from", [datetime.now(UTC) - timedelta(days=60), datetime.now(UTC) + timedelta(days=1)]
)
async def test_verify_refuses_certificate_outside_its_validity(signing_key, valid_from):
    pem = build_signing_certificate(signing_key, valid_from=valid_from, valid_days=30)
    verifier = sns.SnsVerifier(fetch_certificate=CertificateFetcher(pem))
    signed = sign(build_notification(), signing_key, "2")

    with pytest.raises(AuthenticationFailed, match="validity period"):
        await verifier.verify(to_envelope(signed))


# The default certificate fetch, over real HTTPS to the SNS stand-in


@pytest.fixture
def sns_through_proxy(sns_stand_in, monkeypatch):
    """Route the verifier's own httpx client to the stand-in, as an operator's proxy would."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", sns_stand_in.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(sns_stand_in.ca_path))
    return sns_stand_in


async def test_default_fetcher_gets_certificate_over_https_once(
    sns_through_proxy, signing_key, signing_pem
):
    sns_through_proxy.answer(CERT_PATH, 200, signing_pem)
    verifier = sns.SnsVerifier()
    for version in ("1", "2"):
        signed = sign(build_notification(SigningCertURL=CERT_URL), signing_key, version)
        await verifier.verify(to_envelope(signed))

    assert sns_through_proxy.requests == [SnsRequest(HOST, "GET", CERT_PATH)]


async def test_default_fetcher_refuses_certificate_sns_does_not_have(
    sns_through_proxy, signing_key
):
    signed = sign(build_notification(SigningCertURL=CERT_URL), signing_key, "2")

    with pytest.raises(AuthenticationFailed, match="HTTP 404"):
        await sns.SnsVerifier().verify(to_envelope(signed))


async def test_default_fetcher_reports_sns_outage_as_unavailable(sns_through_proxy, signing_key):
    sns_through_proxy.answer(CERT_PATH, 503, b"<Error>ServiceUnavailable</Error>")
    signed = sign(build_notification(SigningCertURL=CERT_URL), signing_key, "2")

    with pytest.raises(sns.SnsUnavailable, match="503"):
        await sns.SnsVerifier().verify(to_envelope(signed))


async def test_default_fetcher_gives_up_after_its_timeout(sns_through_proxy, signing_key):
    sns_through_proxy.hang(CERT_PATH)
    signed = sign(build_notification(SigningCertURL=CERT_URL), signing_key, "2")

    with pytest.raises(sns.SnsUnavailable, match="ReadTimeout"):
        await sns.SnsVerifier(http_timeout=0.3).verify(to_envelope(signed))


# Subscription confirmation


@pytest.fixture
async def sns_http(sns_stand_in):
    async with httpx.AsyncClient(
        proxy=sns_stand_in.proxy_url, verify=sns_stand_in.client_tls, timeout=5
    ) as client:
        yield client


async def test_confirm_subscription_gets_the_subscribe_url(sns_stand_in, sns_http):
    sns_stand_in.answer("/", 200, b"<ConfirmSubscriptionResponse/>")
    envelope = to_envelope(build_confirmation())

    await sns.confirm_subscription(envelope, http=sns_http)

    target = envelope.SubscribeURL.removeprefix(f"https://{HOST}")
    assert sns_stand_in.requests == [SnsRequest(HOST, "GET", target)]


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
        "https://evil.com/?Action=ConfirmSubscription",
    ],
)
async def test_confirm_subscription_refuses_foreign_url_without_a_request(
    sns_stand_in, sns_http, url
):
    with pytest.raises(AuthenticationFailed, match="SubscribeURL"):
        await sns.confirm_subscription(
            to_envelope(build_confirmation(SubscribeURL=url)), http=sns_http
        )

    assert sns_stand_in.requests == []


async def test_confirm_subscription_refuses_a_notification(sns_stand_in, sns_http):
    with pytest.raises(BadRequest, match="SubscribeURL"):
        await sns.confirm_subscription(to_envelope(build_notification()), http=sns_http)

    assert sns_stand_in.requests == []


async def test_confirm_subscription_reports_refusal_by_sns(sns_stand_in, sns_http):
    sns_stand_in.answer("/", 403, b"<Error><Code>AuthorizationError</Code></Error>")

    with pytest.raises(sns.SnsUnavailable, match="403"):
        await sns.confirm_subscription(to_envelope(build_confirmation()), http=sns_http)


async def test_confirm_subscription_reports_sns_not_answering(sns_stand_in):
    sns_stand_in.hang("/")
    client = httpx.AsyncClient(
        proxy=sns_stand_in.proxy_url, verify=sns_stand_in.client_tls, timeout=0.3
    )

    async with client:
        with pytest.raises(sns.SnsUnavailable, match="ReadTimeout"):
            await sns.confirm_subscription(to_envelope(build_confirmation()), http=client)
