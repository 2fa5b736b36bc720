import pytest
from django.core.exceptions import ValidationError

from apps.mqtt.validators import (
    validate_broker_host,
    validate_client_id_prefix,
    validate_pem_certificates,
    validate_pem_private_key,
    validate_topic_filter,
)
from conftest import make_tls_material


@pytest.mark.parametrize(
    "pattern",
    [
        "{code}/datalogger_o/heartbeat",
        "{code}/sys_info",
        "{code}/#",
        "#",
        "+/datalogger_o/+",
        "{code}/+/heartbeat",
        "plain/topic with space",
    ],
)
def test_valid_topic_filter_is_accepted(pattern: str) -> None:
    validate_topic_filter(pattern)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "may not be empty"),
        ("{code}/#/heartbeat", "'#' must be a whole topic level and the last one"),
        ("{code}/data#", "'#' must be a whole topic level"),
        ("{code}/sensor+", "'+' must fill a whole topic level"),
        ("{code}/+x/heartbeat", "'+' must fill a whole topic level"),
        ("{code}/\x00", "control characters"),
        ("a" * 65536, "longer than MQTT allows"),
    ],
)
def test_invalid_topic_filter_is_rejected_with_reason(pattern: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_topic_filter(pattern)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize("prefix", ["dlmon", "site-mon_2", "a.b"])
def test_client_id_prefix_of_safe_characters_is_accepted(prefix: str) -> None:
    validate_client_id_prefix(prefix)


@pytest.mark.parametrize("prefix", ["with space", "slash/", "è", ""])
def test_client_id_prefix_with_unsafe_characters_is_rejected(prefix: str) -> None:
    with pytest.raises(ValidationError):
        validate_client_id_prefix(prefix)


def test_broker_host_with_scheme_is_rejected_with_hint() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_broker_host("mqtt://broker.example.com")
    assert "without a scheme" in excinfo.value.messages[0]
    validate_broker_host("broker.example.com")
    validate_broker_host("10.0.0.7")
    validate_broker_host("::1")


def test_pem_material_is_checked() -> None:
    material = make_tls_material()
    validate_pem_certificates(material.certificate_pem)
    validate_pem_private_key(material.key_pem)
    with pytest.raises(ValidationError, match="Not a PEM certificate"):
        validate_pem_certificates("hello")
    with pytest.raises(ValidationError, match="Not a PEM private key"):
        validate_pem_private_key(material.certificate_pem)
