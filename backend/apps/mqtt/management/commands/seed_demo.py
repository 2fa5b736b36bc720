"""Demo data: a customer, a staff user, a customer user and N sites with connections."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.mqtt.models import MqttConnection
from apps.mqtt.services.connections import save_connection, set_topics
from apps.sites.models import Customer, Site

DEMO_CUSTOMER = "Demo Customer"
DEMO_STAFF = ("admin", "demo-admin")
DEMO_CUSTOMER_USER = ("customer", "demo-customer")


class Command(BaseCommand):
    help = "Create or refresh the demo data (idempotent). Refuses to run with DEBUG off unless --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sites", type=int, default=20, help="number of demo sites (default 20)")
        parser.add_argument("--broker-host", default="127.0.0.1")
        parser.add_argument("--broker-port", type=int, default=1883)
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (demo passwords are public)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates users with public passwords; use --force with DEBUG off.")
        count = options["sites"]
        if not 1 <= count <= 10000:
            raise CommandError("--sites must be between 1 and 10000.")
        if not 1 <= options["broker_port"] <= 65535:
            raise CommandError("--broker-port must be between 1 and 65535.")
        with transaction.atomic():
            created = self._seed(count, options["broker_host"], options["broker_port"])
        if options["verbosity"] == 0:  # e.g. from `demo`, which prints the logins in its own banner
            return
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {count} sites ({created} new)."))
        self.stdout.write(f"  staff login:    {DEMO_STAFF[0]} / {DEMO_STAFF[1]}")
        self.stdout.write(f"  customer login: {DEMO_CUSTOMER_USER[0]} / {DEMO_CUSTOMER_USER[1]}")

    def _seed(self, count: int, broker_host: str, broker_port: int) -> int:
        customer, _ = Customer.objects.get_or_create(name=DEMO_CUSTOMER)
        user_model = get_user_model()
        staff, _ = user_model.objects.get_or_create(username=DEMO_STAFF[0])
        staff.is_staff = staff.is_superuser = staff.is_active = True
        staff.set_password(DEMO_STAFF[1])
        staff.save()
        member, _ = user_model.objects.get_or_create(username=DEMO_CUSTOMER_USER[0])
        member.is_staff = member.is_superuser = False
        member.is_active = True
        member.set_password(DEMO_CUSTOMER_USER[1])
        member.save()
        customer.members.add(member)

        created = 0
        for number in range(1, count + 1):
            site, site_created = Site.objects.get_or_create(
                code=f"DEMO{number:03d}",
                defaults={"name": f"Demo site {number}", "customer": customer},
            )
            created += site_created
            connection = MqttConnection.objects.filter(site=site).first() or MqttConnection(site=site)
            connection.broker_host, connection.broker_port = broker_host, broker_port
            save_connection(connection=connection, enabled=True, fields=["broker_host", "broker_port"])
            set_topics(connection=connection)
        return created
