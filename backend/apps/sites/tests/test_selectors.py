import pytest
from django.contrib.auth.models import AnonymousUser, User

from apps.sites.models import Customer
from apps.sites.selectors import can_view_site, sites_visible_to

pytestmark = pytest.mark.django_db


def test_customer_member_sees_only_own_customers_sites(make_site) -> None:
    acme, other = Customer.objects.create(name="Acme"), Customer.objects.create(name="Other")
    own, foreign = make_site(customer=acme), make_site(customer=other)
    make_site(customer=None)
    user = User.objects.create_user("alice")
    acme.members.add(user)

    assert list(sites_visible_to(user)) == [own]
    assert can_view_site(user, own.pk)
    assert not can_view_site(user, foreign.pk)


def test_staff_sees_every_site_including_those_without_customer(make_site) -> None:
    sites = {make_site(customer=Customer.objects.create(name="Acme")), make_site(customer=None)}
    staff = User.objects.create_user("bob", is_staff=True)
    assert set(sites_visible_to(staff)) == sites


def test_anonymous_inactive_users_and_inactive_customers_see_nothing(make_site) -> None:
    acme = Customer.objects.create(name="Acme")
    site = make_site(customer=acme)
    inactive_user = User.objects.create_user("carol", is_active=False)
    acme.members.add(inactive_user)
    assert not sites_visible_to(AnonymousUser()).exists()
    assert not sites_visible_to(inactive_user).exists()

    member = User.objects.create_user("dave")
    acme.members.add(member)
    acme.is_active = False
    acme.save()
    assert not can_view_site(member, site.pk)


def test_member_of_two_customers_sees_each_site_once(make_site) -> None:
    user = User.objects.create_user("erin")
    for name in ("A", "B"):
        customer = Customer.objects.create(name=name)
        customer.members.add(user)
        make_site(customer=customer)
    assert sites_visible_to(user).count() == 2
