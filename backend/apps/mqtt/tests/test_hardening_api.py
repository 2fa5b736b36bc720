"""The API in production: throttled (429 beyond the rate), the OpenAPI schema and its pages for
signed-in users only (session or API token)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

SCHEMA_ROUTES = ["/api/schema/", "/api/docs/", "/api/redoc/"]


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    # The throttles read their rates once, at import: the test swaps the table they read.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})


def test_a_user_beyond_the_rate_gets_429_with_retry_after(low_rates: None) -> None:
    client = APIClient()
    client.force_login(User.objects.create_user("busy-user"))

    answers = [client.get("/api/me/").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    assert int(client.get("/api/me/")["Retry-After"]) > 0


def test_anonymous_callers_beyond_the_rate_get_429(low_rates: None) -> None:
    client = APIClient()

    assert [client.get("/api/").status_code for _ in range(3)] == [200, 200, 429]


def test_the_default_rates_are_generous(settings) -> None:
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {"anon": "60/min", "user": "600/min"}


@pytest.mark.parametrize("path", SCHEMA_ROUTES)
def test_anonymous_schema_and_docs_are_refused_in_production(path: str, settings) -> None:
    assert settings.DEBUG is False  # the test settings are the production ones

    assert APIClient().get(path).status_code == 401


def test_the_schema_answers_an_api_token() -> None:
    token = Token.objects.create(user=User.objects.create_user("api-client"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/logs/" in response.json()["paths"]


@pytest.mark.parametrize("path", SCHEMA_ROUTES)
def test_the_schema_and_docs_answer_a_staff_session(path: str, staff_user: User) -> None:
    client = APIClient()
    client.force_login(staff_user)

    assert client.get(path).status_code == 200
