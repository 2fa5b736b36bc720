"""The runner in the worker: one evaluator per install (the lease), ticks in its own threads."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import LazySettings
from django.core import mail
from django.core.management import call_command

from apps.alerts.lease import claim_evaluator
from apps.alerts.models import Alert, EvaluatorState, Notification
from apps.alerts.runner import AlertRunner
from apps.alerts.tests.helpers import (
    T0,
    channel_on_every_rule,
    make_monitored_site,
    seconds,
    site_goes_silent,
)
from apps.mqtt.worker.runtime import MqttWorker
from apps.sites.models import Site

pytestmark = pytest.mark.django_db(transaction=True)


def test_only_one_worker_holds_the_evaluator_until_its_lease_expires() -> None:
    assert claim_evaluator(worker_id="a", now=T0, seconds=15)
    assert not claim_evaluator(worker_id="b", now=T0 + seconds(10), seconds=15)
    assert claim_evaluator(worker_id="a", now=T0 + seconds(10), seconds=15)  # renewed
    assert claim_evaluator(worker_id="b", now=T0 + seconds(26), seconds=15)  # a's expired
    assert EvaluatorState.objects.get().holder == "b"


def test_a_fresh_evaluator_starts_after_the_existing_rows(make_site: Callable[..., Site]) -> None:
    connection, sensors = make_monitored_site(make_site(), 3)
    site_goes_silent(connection, sensors, T0)  # history from before alerts existed
    runner = AlertRunner(worker_id="w", clock=lambda: T0 + seconds(5), interval=1)
    runner.tick()
    assert runner.holding
    assert not Alert.objects.exists()


def test_the_worker_starts_the_runner_and_it_takes_the_evaluators_lease(
    settings: LazySettings, tmp_path: Path
) -> None:
    settings.ALERTS_IN_WORKER = True
    settings.ALERTS_INTERVAL = 1

    async def run() -> str:
        worker = MqttWorker(layer=None, idle_wait=0.02, spool_dir=tmp_path, reconcile_interval=60)
        await worker.start()
        assert "alerts" in {task.get_name() for task in worker._tasks}
        for _ in range(100):  # up to 10 s
            if await asyncio.to_thread(EvaluatorState.objects.filter(holder=worker.worker_id).exists):
                break
            await asyncio.sleep(0.1)
        await worker.stop()
        return worker.worker_id

    worker_id = asyncio.run(run())
    assert EvaluatorState.objects.get().holder == worker_id


def test_the_runner_evaluates_in_its_own_thread_opens_alerts_and_sends_them(
    make_site: Callable[..., Site],
) -> None:
    channel_on_every_rule()
    claim_evaluator(worker_id="setup", now=dt.datetime.now(dt.UTC) - seconds(60), seconds=1)  # cursor: now
    connection, sensors = make_monitored_site(make_site(), 10)

    async def run() -> None:
        runner = AlertRunner(worker_id="runner", interval=0.2)
        task = asyncio.create_task(runner.run())
        await asyncio.to_thread(site_goes_silent, connection, sensors, dt.datetime.now(dt.UTC))
        sent = Notification.objects.filter(status="sent")
        for _ in range(100):  # up to 10 s
            if await asyncio.to_thread(sent.exists):
                break
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    (alert,) = Alert.objects.all()
    assert len(alert.affected_sensors) == 10
    assert mail.outbox[0].subject == f"[critical] {alert.title}"


def test_run_alerts_runs_the_runner_and_releases_its_lease_when_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def one_tick(self: AlertRunner) -> None:
        await asyncio.to_thread(self.tick)  # then returns, as after a SIGTERM

    monkeypatch.setattr(AlertRunner, "run", one_tick)
    out = io.StringIO()
    call_command("run_alerts", stdout=out)
    assert "evaluating every" in out.getvalue()
    assert "stopped" in out.getvalue()
    assert EvaluatorState.objects.get().holder == ""  # free for the next one at once
