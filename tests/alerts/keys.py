"""Throw-away keys and certificates for the SNS tests, built with `cryptography`.

`build_signing_certificate` is the CA-less certificate SNS would serve as SigningCertURL;
`build_tls_files` is a small CA and a server certificate for the HTTPS stand-in.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOTIFICATION_ORDER = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_ORDER = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


class CertificateFetcher:
    """The SnsVerifier seam: serves one PEM and records every URL it was asked for."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.urls: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


def build_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def build_certificate(
    key: Any,
    *,
    subject: str,
    issuer_key: Any = None,
    issuer: x509.Certificate | None = None,
    valid_from: datetime | None = None,
    valid_days: int = 30,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> x509.Certificate:
    start = valid_from or datetime.now(UTC) - timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
    )
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key or key, hashes.SHA256())


def build_signing_certificate(key: Any, **options: Any) -> bytes:
    """A self-signed PEM certificate like the one at SNS's SigningCertURL."""
    certificate = build_certificate(key, subject="sns.amazonaws.com", **options)
    return certificate.public_bytes(serialization.Encoding.PEM)


def build_ec_signing_certificate() -> bytes:
    return build_signing_certificate(ec.generate_private_key(ec.SECP256R1()))


def sign(envelope: dict[str, Any], key: rsa.RSAPrivateKey, version: str) -> dict[str, Any]:
    """A copy of `envelope` signed the way SNS documents it, for SignatureVersion 1 or 2."""
    order = NOTIFICATION_ORDER if envelope["Type"] == "Notification" else CONFIRMATION_ORDER
    text = "".join(f"{k}\n{envelope[k]}\n" for k in order if envelope.get(k) is not None)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1 is SHA1
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {
        **envelope,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def build_tls_files(folder: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `host`; returns (ca_pem, cert_pem, key_pem)."""
    ca_key, server_key = build_rsa_key(), build_rsa_key()
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = build_certificate(
        ca_key,
        subject="incident-bot test CA",
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(cert_sign=True), True),
            (ca_ski, False),
        ],
    )
    server = build_certificate(
        server_key,
        subject=host,
        issuer=ca,
        issuer_key=ca_key,
        extensions=[
            (x509.SubjectAlternativeName([x509.DNSName(host)]), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(cert_sign=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False),
        ],
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
