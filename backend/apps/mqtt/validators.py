"""Validation of MQTT topic filters, client ids, host names and PEM material."""

from __future__ import annotations

import re
import unicodedata

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError

SITE_CODE_PLACEHOLDER = "{code}"
_MAX_TOPIC_BYTES = 65535
_CLIENT_ID_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+$")
_HOST = re.compile(r"^[A-Za-z0-9._:-]+$")


def validate_topic_filter(pattern: str) -> None:
    """An MQTT subscription filter (MQTT 3.1.1 §4.7): '+' fills a whole level, '#' is a whole
    level and the last one. ``{code}`` stands for the site's code."""
    if not pattern:
        raise ValidationError("The topic may not be empty.", code="empty")
    topic = pattern.replace(SITE_CODE_PLACEHOLDER, "code")
    if len(topic.encode()) > _MAX_TOPIC_BYTES:
        raise ValidationError("The topic is longer than MQTT allows (65535 bytes).", code="long")
    for char in topic:
        if unicodedata.category(char).startswith("C"):
            raise ValidationError(
                "The topic may not contain control characters (found U+%(cp)04X).",
                code="control",
                params={"cp": ord(char)},
            )
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValidationError(
                "'#' must be a whole topic level and the last one, e.g. %(example)s.",
                code="hash",
                params={"example": "SITE/#"},
            )
        if "+" in level and level != "+":
            raise ValidationError(
                "'+' must fill a whole topic level, e.g. %(example)s.",
                code="plus",
                params={"example": "SITE/+/heartbeat"},
            )


def validate_client_id_prefix(value: str) -> None:
    if not _CLIENT_ID_PREFIX.match(value):
        raise ValidationError(
            "Use letters, digits, '_', '-' and '.' only: some brokers refuse other client ids.",
            code="client_id",
        )


def validate_broker_host(value: str) -> None:
    if "://" in value:
        raise ValidationError(
            "Give the host name only (e.g. broker.example.com), without a scheme.", code="scheme"
        )
    if not _HOST.match(value):
        raise ValidationError("%(value)s is not a valid host name or address.", params={"value": value})


def validate_pem_certificates(value: str) -> None:
    try:
        x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise ValidationError(
            "Not a PEM certificate: paste the text from -----BEGIN CERTIFICATE----- to "
            "-----END CERTIFICATE-----.",
            code="pem_certificate",
        ) from None


def validate_pem_private_key(value: str) -> None:
    try:
        serialization.load_pem_private_key(value.encode(), password=None)
    except TypeError:
        raise ValidationError(
            "The key is protected by a passphrase; store it unencrypted (it is encrypted at rest).",
            code="pem_key_encrypted",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(
            "Not a PEM private key: paste the text from -----BEGIN ... PRIVATE KEY-----.",
            code="pem_key",
        ) from None


def certificate_matches_key(certificate_pem: str, key_pem: str) -> bool:
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    return certificate.public_key().public_bytes(encoding, public) == key.public_key().public_bytes(
        encoding, public
    )
