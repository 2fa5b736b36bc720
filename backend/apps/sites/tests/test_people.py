from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from apps.sites.people import OPERATOR, display_actor

pytestmark = pytest.mark.django_db


def test_customer_sees_operator_instead_of_a_staff_username() -> None:
    staff = User.objects.create_user("alice-staff", is_staff=True)
    customer = User.objects.create_user("bob-customer")
    assert display_actor(staff, customer) == OPERATOR


def test_staff_viewer_sees_the_username() -> None:
    staff = User.objects.create_user("alice-staff", is_staff=True)
    other = User.objects.create_user("carol-staff", is_staff=True)
    assert display_actor(staff, other) == "alice-staff"


def test_a_user_sees_their_own_name() -> None:
    customer = User.objects.create_user("bob-customer")
    assert display_actor(customer, customer) == "bob-customer"


def test_anonymous_viewer_sees_operator_and_no_actor_stays_none() -> None:
    staff = User.objects.create_user("alice-staff", is_staff=True)
    assert display_actor(staff, AnonymousUser()) == OPERATOR
    assert display_actor(staff, None) == OPERATOR
    assert display_actor(None, staff) is None
