"""Simulate datalogger sites: heartbeats and sys_info over MQTT, with optional faults.

A thin shell over ``apps.mqtt.simulator``: it validates the options, builds one ``SiteSimulator`` per
site and runs the ``SimulatorRunner`` until interrupted (or for ``--duration`` / ``--count``).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.mqtt.simulator.faults import Faults
from apps.mqtt.simulator.formats import HEARTBEAT_FORMATS, MIXED, SYS_INFO_FORMATS
from apps.mqtt.simulator.noise import MAX_SENSORS_PER_SITE
from apps.mqtt.simulator.payloads import SiteSimulator
from apps.mqtt.simulator.runner import BrokerConfig, SimulatorRunner, parse_broker_url
from apps.sites.validators import validate_topic_level

MAX_SITES = 10_000


def demo_site_codes(count: int) -> list[str]:
    """The codes ``seed_demo`` gives its sites: DEMO001, DEMO002..."""
    return [f"DEMO{number:03d}" for number in range(1, count + 1)]


def _codes_list(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


class Command(BaseCommand):
    help = (
        "Publish realistic datalogger heartbeats and sys_info for N sites to an MQTT broker, with "
        "optional faults (dropped, stale or vanishing sensors, silent sites, sites going dark now and "
        "then, malformed payloads). Ctrl-C stops."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--sites", type=int, default=20, help="number of sites DEMO001.. as seed_demo makes (default 20)"
        )
        which.add_argument("--site-codes", help="comma-separated site codes instead of generated ones")
        which.add_argument(
            "--from-db",
            action="store_true",
            help="the codes of the enabled connections' sites in the database",
        )
        parser.add_argument("--sensors", type=int, default=10, help="sensors per site (default 10)")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between heartbeats (default 5)"
        )
        parser.add_argument(
            "--sysinfo-interval", type=float, default=60.0, help="seconds between sys_info (default 60)"
        )
        parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="mqtt://HOST:PORT")
        parser.add_argument("--username", default=None)
        parser.add_argument("--password", default=None)
        parser.add_argument(
            "--format",
            dest="heartbeat_format",
            default="seed",
            help=f"heartbeat format: {', '.join(HEARTBEAT_FORMATS)} or {MIXED} (one per site)",
        )
        parser.add_argument(
            "--sysinfo-format",
            default="flat",
            help=f"sys_info format: {', '.join(SYS_INFO_FORMATS)} or {MIXED}",
        )
        parser.add_argument(
            "--extras-every",
            type=int,
            default=5,
            help="every Kth sensor also has a magnetometer and a gyroscope (0: none; default 5)",
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same sites)")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        parser.add_argument(
            "--count", type=int, default=None, help="stop after this many heartbeats per site"
        )
        parser.add_argument(
            "--same-tick", action="store_true", help="all sites publish together (load tests)"
        )
        parser.add_argument(
            "--summary-every", type=float, default=10.0, help="seconds between summary lines (default 10)"
        )
        faults = parser.add_argument_group(
            "faults",
            "All but --silent-sites and --silence apply to every simulated site; times count from a "
            "site's first message.",
        )
        faults.add_argument(
            "--drop-sensors",
            type=float,
            default=0.0,
            help="probability each sensor is left out of a heartbeat",
        )
        faults.add_argument(
            "--silent-sites", type=int, default=0, help="the first K sites publish nothing at all"
        )
        faults.add_argument(
            "--silence", default="", help="comma-separated codes of sites that publish nothing"
        )
        faults.add_argument(
            "--malformed",
            type=float,
            default=0.0,
            help="probability a message is replaced by a malformed one",
        )
        faults.add_argument(
            "--stale-sensors", type=int, default=0, help="the first K sensors per site: ts never advances"
        )
        faults.add_argument(
            "--vanishing-sensors",
            metavar="K",
            type=int,
            default=0,
            help="the last K sensors per site are listed for --vanish-after seconds, then never again "
            "(the worker turns them offline); at most --sensors minus --stale-sensors",
        )
        faults.add_argument(
            "--vanish-after",
            metavar="S",
            type=float,
            default=30.0,
            help="seconds the vanishing sensors are listed first, so the worker knows them (default 30)",
        )
        faults.add_argument(
            "--dark-every",
            metavar="S",
            type=float,
            default=0.0,
            help="a site goes dark (publishes nothing at all) every S seconds; needs --dark-for",
        )
        faults.add_argument(
            "--dark-for",
            metavar="S",
            type=float,
            default=0.0,
            help="seconds each dark period lasts, less than --dark-every (past the worker's heartbeat "
            "timeout, 30 s by default, the site's heartbeat shows as missing)",
        )
        faults.add_argument(
            "--dark-offset",
            metavar="S",
            type=float,
            default=0.0,
            help="seconds before the first dark period (default 0: dark from the first tick)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        codes = self._site_codes(options)
        try:
            host, port = parse_broker_url(options["broker"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        runner = self._build_runner(codes, host, port, options)
        # A short list of codes is worth printing: it shows which sites --from-db picked.
        listed = f" ({', '.join(codes)})" if len(codes) <= 10 else ""
        self.stdout.write(
            f"Simulating {len(codes)} sites{listed} x {options['sensors']} sensors every "
            f"{options['interval']:g} s on {host}:{port} (format {options['heartbeat_format']}); "
            "Ctrl-C stops."
        )
        asyncio.run(runner.run(handle_signals=True))

    def _site_codes(self, options: dict[str, Any]) -> list[str]:
        if options["from_db"]:
            from apps.mqtt.models import MqttConnection  # the database is needed by this option only

            codes = list(
                MqttConnection.objects.filter(enabled=True)
                .order_by("site__code")
                .values_list("site__code", flat=True)
            )
            if not codes:
                raise CommandError("--from-db: no enabled connections in the database.")
            return codes
        if options["site_codes"] is not None:
            codes = _codes_list(options["site_codes"])
            if not codes:
                raise CommandError("--site-codes: give at least one code, e.g. --site-codes SITE1,SITE2.")
            for code in codes:
                try:
                    validate_topic_level(code)
                except ValidationError as exc:
                    raise CommandError(f"--site-codes: {code!r}: {' '.join(exc.messages)}") from None
            if len(set(codes)) != len(codes):
                raise CommandError("--site-codes: a code is listed twice.")
            return codes
        if not 1 <= options["sites"] <= MAX_SITES:
            raise CommandError(f"--sites must be between 1 and {MAX_SITES}, not {options['sites']}.")
        return demo_site_codes(options["sites"])

    def _build_runner(
        self, codes: list[str], host: str, port: int, options: dict[str, Any]
    ) -> SimulatorRunner:
        sensors = options["sensors"]
        self._check_run(options)
        self._check_faults(options, codes)
        named = _codes_list(options["silence"])
        unknown = sorted(set(named) - set(codes))
        if unknown:
            raise CommandError(f"--silence: {', '.join(unknown)} not among the simulated sites.")
        if options["password"] is not None and options["username"] is None:
            raise CommandError("--password needs --username.")

        faults = Faults(
            drop_sensors=options["drop_sensors"],
            malformed=options["malformed"],
            stale_sensors=options["stale_sensors"],
            vanishing_sensors=options["vanishing_sensors"],
            vanish_after=options["vanish_after"],
            dark_every=options["dark_every"],
            dark_for=options["dark_for"],
            dark_offset=options["dark_offset"],
        )
        sites = [
            SiteSimulator(
                code,
                index=index,
                sensors=sensors,
                heartbeat_format=options["heartbeat_format"],
                sys_info_format=options["sysinfo_format"],
                interval=options["interval"],
                seed=options["seed"],
                extras_every=options["extras_every"],
                faults=faults,
            )
            for index, code in enumerate(codes)
        ]
        broker = BrokerConfig(
            host=host, port=port, username=options["username"], password=options["password"]
        )
        return SimulatorRunner(
            sites,
            broker,
            interval=options["interval"],
            sysinfo_interval=options["sysinfo_interval"],
            same_tick=options["same_tick"],
            duration=options["duration"],
            count=options["count"],
            silenced=frozenset(codes[: options["silent_sites"]]) | frozenset(named),
            summary_every=options["summary_every"],
            echo=self._echo,
        )

    @staticmethod
    def _check_run(options: dict[str, Any]) -> None:
        """Sizes, timing and formats."""
        sensors = options["sensors"]
        if not 1 <= sensors <= MAX_SENSORS_PER_SITE:
            raise CommandError(f"--sensors must be between 1 and {MAX_SENSORS_PER_SITE}, not {sensors}.")
        for name in ("interval", "sysinfo_interval", "summary_every"):
            if not options[name] > 0:  # also rejects NaN
                raise CommandError(f"--{name.replace('_', '-')} must be a positive number of seconds.")
        if options["duration"] is not None and not options["duration"] > 0:
            raise CommandError("--duration must be a positive number of seconds.")
        if options["count"] is not None and options["count"] < 1:
            raise CommandError("--count must be at least 1.")
        if options["extras_every"] < 0:
            raise CommandError("--extras-every must be 0 (no magnetometer/gyroscope) or positive.")
        for name, flag, formats in (
            ("heartbeat_format", "--format", HEARTBEAT_FORMATS),
            ("sysinfo_format", "--sysinfo-format", SYS_INFO_FORMATS),
        ):
            if options[name] not in (*formats, MIXED):
                raise CommandError(
                    f"Unknown {flag} {options[name]!r}: use one of {', '.join((*formats, MIXED))}."
                )

    def _check_faults(self, options: dict[str, Any], codes: list[str]) -> None:
        sensors = options["sensors"]
        for name in ("drop_sensors", "malformed"):
            if not 0.0 <= options[name] <= 1.0:  # also rejects NaN
                raise CommandError(
                    f"--{name.replace('_', '-')} is a probability and must be between 0 and 1, "
                    f"not {options[name]}."
                )
        if not 0 <= options["stale_sensors"] <= sensors:
            raise CommandError(f"--stale-sensors must be between 0 and --sensors ({sensors}).")
        listed = sensors - options["stale_sensors"]
        if not 0 <= options["vanishing_sensors"] <= listed:
            raise CommandError(
                f"--vanishing-sensors must be between 0 and --sensors minus --stale-sensors ({listed}): "
                "stale sensors are the first ones, vanishing ones the last."
            )
        if not 0 < options["vanish_after"] < math.inf:
            raise CommandError("--vanish-after must be a positive number of seconds.")
        self._check_dark(options)
        if not 0 <= options["silent_sites"] <= len(codes):
            raise CommandError(f"--silent-sites must be between 0 and the number of sites ({len(codes)}).")

    @staticmethod
    def _check_dark(options: dict[str, Any]) -> None:
        every, length, offset = options["dark_every"], options["dark_for"], options["dark_offset"]
        if not every and not length:
            if offset:
                raise CommandError("--dark-offset needs --dark-every and --dark-for.")
            return
        if not every or not length:
            raise CommandError("--dark-every and --dark-for go together: give both, or neither.")
        # Written so that NaN and infinities fail too.
        if not 0 < length < every < math.inf:
            raise CommandError(
                f"--dark-for ({length:g}) must be a positive number of seconds less than --dark-every "
                f"({every:g})."
            )
        if not 0 <= offset < math.inf:
            raise CommandError("--dark-offset must be 0 or a positive number of seconds.")

    def _echo(self, line: str) -> None:
        # Flushed at once: the simulator usually runs with stdout piped to a log or a terminal pane.
        self.stdout.write(line)
        self.stdout.flush()
