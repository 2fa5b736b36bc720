"""The web app's shell and sign-in: every app route answers the built page to a signed-in user,
anyone else goes to the sign-in page (customers included: they are not staff)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

SHELL = '<!doctype html><html><body><div id="root"></div><script src="/static/app/assets/x.js"></script>'


@pytest.fixture
def built_app(tmp_path: Path, settings) -> Path:
    (tmp_path / "index.html").write_text(SHELL)
    settings.FRONTEND_DIST = tmp_path
    return tmp_path


@pytest.fixture
def customer(db: None) -> User:
    return User.objects.create_user("customer", password="customer-pass-1")


@pytest.mark.parametrize(
    "path", ["/", "/sites/12/", "/ops/", "/sites/12/sensors/x", "/alerts/", "/sites/12/availability/"]
)
def test_app_routes_answer_the_shell_to_a_signed_in_user(
    client: Client, customer: User, built_app, path
) -> None:
    client.force_login(customer)
    response = client.get(path)
    assert response.status_code == 200
    assert response.content.decode() == SHELL
    assert "no-cache" in response["Cache-Control"]
    assert "csrftoken" in response.cookies  # the app's POSTs read it


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client: Client, built_app) -> None:
    response = client.get("/sites/3/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/sites/3/")


def test_a_customer_signs_in_on_the_sign_in_page(client: Client, customer: User, built_app) -> None:
    page = client.get("/login/?next=/sites/3/")
    assert page.status_code == 200
    assert b'name="next" value="/sites/3/"' in page.content
    response = client.post(
        "/login/", {"username": "customer", "password": "customer-pass-1", "next": "/sites/3/"}
    )
    assert (response.status_code, response["Location"]) == (302, "/sites/3/")
    assert client.get("/sites/3/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client: Client, customer: User) -> None:
    response = client.post("/login/", {"username": "customer", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert b'role="alert"' in response.content


def test_signing_out_is_a_post_and_leads_to_sign_in(client: Client, customer: User, built_app) -> None:
    client.force_login(customer)
    response = client.post("/logout/")
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert client.get("/").status_code == 302


def test_without_a_build_the_page_says_how_to_build_it(
    client: Client, customer: User, tmp_path, settings
) -> None:
    settings.FRONTEND_DIST = tmp_path
    settings.STATIC_ROOT = tmp_path
    client.force_login(customer)
    response = client.get("/")
    assert response.status_code == 503
    assert b"npm run build" in response.content


def test_the_admin_header_links_to_the_live_app(client: Client) -> None:
    client.force_login(User.objects.create_user("staff", is_staff=True, is_superuser=True))
    page = client.get("/admin/").content.decode()
    assert 'href="/"' in page
    assert 'href="/ops/"' in page
