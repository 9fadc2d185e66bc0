"""Amazon SNS HTTP(S) deliveries: the envelope, its signature, and subscription confirmation.

The signature rules are AWS's: https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
SignatureVersion 1 is SHA1withRSA and 2 is SHA256withRSA over "Key\\nValue\\n" pairs in a
fixed order; the certificate must come from an sns.<region>.amazonaws.com(.cn) host.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from bot.alerts import messages, payloads
from bot.errors import AuthenticationFailed, BadRequest, BotError

logger = logging.getLogger(__name__)

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)

FetchCertificate = Callable[[str], Awaitable[bytes]]


class SnsUnavailable(BotError):
    """SNS could not be reached to fetch a certificate or confirm a subscription."""


class SnsEnvelope(BaseModel):
    """The JSON SNS posts; field names are AWS's, as the signature covers them by name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str
    TopicArn: str
    Message: str
    Timestamp: str
    SignatureVersion: str
    Signature: str
    # Lambda relays spell the URLs SigningCertUrl and UnsubscribeUrl.
    SigningCertURL: str = Field(validation_alias=AliasChoices("SigningCertURL", "SigningCertUrl"))
    Subject: str | None = None
    SubscribeURL: str | None = None
    Token: str | None = None
    UnsubscribeURL: str | None = Field(
        None, validation_alias=AliasChoices("UnsubscribeURL", "UnsubscribeUrl")
    )


def parse_envelope(body: bytes) -> SnsEnvelope:
    """Read the JSON SNS sends as text/plain. Raises BadRequest naming the field at fault."""
    return payloads.to_model(SnsEnvelope, payloads.to_object(body))


def is_topic_allowed(envelope: SnsEnvelope, allowed: Collection[str]) -> bool:
    return envelope.TopicArn in allowed


def is_sns_url(url: str, *, certificate: bool = False) -> bool:
    """An https URL on an SNS host (and, for a certificate, a path ending in .pem)."""
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and SNS_HOST.fullmatch(parts.hostname or "") is not None
        and parts.username is None
        and parts.port in (None, 443)
        and (not certificate or parts.path.endswith(".pem"))
    )


def to_string_to_sign(envelope: SnsEnvelope) -> bytes:
    """The canonical "Key\\nValue\\n" text the signature covers; absent keys are skipped."""
    keys = NOTIFICATION_KEYS if envelope.Type == "Notification" else CONFIRMATION_KEYS
    values = envelope.model_dump()
    return "".join(f"{key}\n{values[key]}\n" for key in keys if values[key] is not None).encode()


class SnsVerifier:
    """Verifies SNS signatures, fetching each signing certificate once per URL."""

    def __init__(
        self, *, fetch_certificate: FetchCertificate | None = None, http_timeout: float = 10.0
    ) -> None:
        self._fetch_certificate = fetch_certificate or self._fetch_with_httpx
        self._http_timeout = http_timeout
        self._certificates: dict[str, x509.Certificate] = {}

    async def verify(self, envelope: SnsEnvelope) -> None:
        """Raise AuthenticationFailed unless SNS signed this envelope.

        The certificate URL and signature version are checked before anything is fetched.
        """
        url = envelope.SigningCertURL
        if not is_sns_url(url, certificate=True):
            raise AuthenticationFailed(messages.to_untrusted_url("SigningCertURL", url))
        algorithm = HASHES.get(envelope.SignatureVersion)
        if algorithm is None:
            version = envelope.SignatureVersion
            raise AuthenticationFailed(messages.to_unknown_signature_version(version))
        try:
            signature = base64.b64decode(envelope.Signature, validate=True)
        except binascii.Error:
            raise AuthenticationFailed(messages.to_bad_signature()) from None

        public_key = (await self._get_certificate(url)).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise AuthenticationFailed(messages.to_bad_certificate(url, "not an RSA key"))
        try:
            data = to_string_to_sign(envelope)
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise AuthenticationFailed(messages.to_bad_signature()) from None

    async def _get_certificate(self, url: str) -> x509.Certificate:
        certificate = self._certificates.get(url)
        if certificate is None:
            try:
                certificate = x509.load_pem_x509_certificate(await self._fetch_certificate(url))
            except ValueError:
                raise AuthenticationFailed(messages.to_bad_certificate(url, "not PEM")) from None
            self._certificates[url] = certificate
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise AuthenticationFailed(
                messages.to_bad_certificate(url, "outside its validity period")
            )
        return certificate

    async def _fetch_with_httpx(self, url: str) -> bytes:
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=self._http_timeout) as http:
                response = await http.get(url)
        except httpx.HTTPError as error:
            _log_call("certificate fetch", url, type(error).__name__, started)
            raise SnsUnavailable(f"fetching {url} failed: {error!r}") from error
        _log_call("certificate fetch", url, str(response.status_code), started)
        if response.status_code >= 500:
            raise SnsUnavailable(f"fetching {url} answered {response.status_code}")
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}"
            raise AuthenticationFailed(messages.to_bad_certificate(url, problem))
        return response.content


async def confirm_subscription(envelope: SnsEnvelope, *, http: httpx.AsyncClient) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation.

    Raises BadRequest for another message type, AuthenticationFailed for a URL off SNS's
    hosts, and SnsUnavailable when SNS does not answer 200.
    """
    if envelope.Type != "SubscriptionConfirmation" or not envelope.SubscribeURL:
        raise BadRequest(messages.to_missing_field("SubscribeURL"))
    url = envelope.SubscribeURL
    if not is_sns_url(url):
        raise AuthenticationFailed(messages.to_untrusted_url("SubscribeURL", url))
    started = time.perf_counter()
    try:
        response = await http.get(url)
    except httpx.HTTPError as error:
        _log_call("subscription confirm", envelope.TopicArn, type(error).__name__, started)
        raise SnsUnavailable(f"confirming {envelope.TopicArn} failed: {error!r}") from error
    _log_call("subscription confirm", envelope.TopicArn, str(response.status_code), started)
    if response.status_code != 200:
        raise SnsUnavailable(f"confirming {envelope.TopicArn} answered {response.status_code}")


def _log_call(call: str, target: str, outcome: str, started: float) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    logger.info("sns %s target=%s outcome=%s duration_ms=%.0f", call, target, outcome, duration_ms)
