import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from apps.mqtt.models import MqttConnection, MqttTopic
from apps.sites.models import Customer, Site
from apps.sites.selectors import sites_visible_to

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        Site.objects.count(),
        MqttConnection.objects.count(),
        MqttTopic.objects.count(),
    )


def test_seed_demo_run_twice_creates_the_same_data_once(settings, capsys) -> None:
    settings.DEBUG = True
    call_command("seed_demo", sites=5)
    first = _counts()
    call_command("seed_demo", sites=5)

    assert _counts() == first == (1, 5, 5, 10)
    output = capsys.readouterr().out
    assert "admin / demo-admin" in output
    assert "customer / demo-customer" in output
    staff = authenticate(username="admin", password="demo-admin")
    member = authenticate(username="customer", password="demo-customer")
    assert staff is not None
    assert staff.is_staff
    assert member is not None
    assert not member.is_staff
    assert sites_visible_to(member).count() == 5
    assert set(MqttConnection.objects.values_list("broker_host", "broker_port", "enabled")) == {
        ("127.0.0.1", 1883, True)
    }


def test_seed_demo_points_connections_at_the_given_broker(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", sites=2)
    call_command("seed_demo", sites=2, broker_host="localhost", broker_port=18830)
    assert set(MqttConnection.objects.values_list("broker_host", "broker_port")) == {("localhost", 18830)}


def test_seed_demo_refuses_public_passwords_when_debug_is_off(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", sites=1)
    assert not Site.objects.exists()


def test_seed_demo_rejects_a_bad_site_count(settings) -> None:
    settings.DEBUG = True
    with pytest.raises(CommandError, match="--sites"):
        call_command("seed_demo", sites=0)
