"""The operator dashboard (staff only): totals, every connection with start / stop / restart, the
recent log events and the worker's liveness, kept live by the page's script over ``/ws/mqtt/status/``.

Control requests set the desired state (``control_connection``: one log row naming the operator, a
nudge to the worker after commit); the observed state then arrives on the socket like any change.
Every page works without the script: the forms post and redirect back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.mqtt.dashboard_selectors import connection_row, dashboard_state
from apps.mqtt.models import HeartbeatState, MqttConnection
from apps.mqtt.services.control import Action, control_connection

CONTROL_PERMISSION = "mqtt.change_mqttconnection"
_VERBS = {Action.START: "Start", Action.STOP: "Stop", Action.RESTART: "Restart"}

View = Callable[..., HttpResponse]


def wants_json(request: HttpRequest) -> bool:
    """A fetch from the page's script (it asks for JSON); a plain form post does not."""
    return "application/json" in request.headers.get("Accept", "")


def staff_required(view: View) -> View:
    """Active staff only. A browser is sent to the admin login; a script gets a JSON 403, which it
    can tell from a page (a redirect would hand it the login form's HTML)."""
    redirecting = staff_member_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if wants_json(request) and not (user.is_active and user.is_staff):
            error = "log in again" if not user.is_authenticated else "staff only"
            return JsonResponse({"ok": False, "error": error}, status=403)
        return redirecting(request, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- presentation (no-script render)


def age_text(value: str | None, now: dt.datetime) -> str:
    """'12 s ago', '4 min ago', '3 h 5 min ago', '2 d ago'; the page's script keeps it ticking."""
    moment = parse_datetime(value) if value else None
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    return f"{seconds // 86400} d ago"


def _local_text(value: str | None) -> str:
    moment = parse_datetime(value) if value else None
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def _presented(state: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The state plus the labels and ages the template prints (the JSON keeps raw values)."""
    statuses = dict(MqttConnection.Status.choices)
    heartbeats = dict(HeartbeatState.choices)
    rows = [
        {
            **row,
            "status_label": statuses.get(row["status"], row["status"]),
            "heartbeat_label": heartbeats.get(row["heartbeat_state"], row["heartbeat_state"]),
            "heartbeat_age": age_text(row["last_heartbeat_at"], now),
            "status_age": "for " + age_text(row["status_changed_at"], now).removesuffix(" ago")
            if row["status_changed_at"]
            else "",
            "pending": _pending(row),
        }
        for row in state["connections"]
    ]
    logs = [{**log, "time_text": _local_text(log["timestamp"])} for log in state["logs"]]
    worker = state["worker"]
    if worker is not None:
        worker = {
            **worker,
            "age": age_text(worker["last_seen_at"], now),
            "since_text": _local_text(worker["last_seen_at"]),
        }
    return {**state, "connections": rows, "logs": logs, "worker": worker}


# What the script's <template> copies start from; it fills every field.
_PLACEHOLDER_ROW = {
    "id": 0,
    "site_id": 0,
    "site_name": "",
    "site_code": "",
    "broker": "",
    "tls": False,
    "enabled": True,
    "status": "disconnected",
    "status_label": "",
    "status_changed_at": None,
    "status_age": "",
    "heartbeat_state": "unknown",
    "heartbeat_label": "",
    "last_heartbeat_at": None,
    "heartbeat_age": "",
    "connection_errors": 0,
    "error_message": "",
    "sensor_counts": {"total": 0, "online": 0, "stale": 0, "offline": 0},
    "pending": "",
}
_PLACEHOLDER_LOG = {"level": "info", "timestamp": None, "time_text": "", "site_name": "", "site_code": ""}


def _pending(row: dict[str, Any]) -> str:
    """Desired and observed state disagree while the worker acts on an operator's request."""
    disabled = row["status"] == MqttConnection.Status.DISABLED
    if not row["enabled"] and not disabled:
        return "stopping"
    if row["enabled"] and disabled:
        return "starting"
    return ""


# ---------------------------------------------------------------- views


@never_cache
@staff_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    state = dashboard_state(now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Live dashboard",
        "is_nav_sidebar_enabled": False,  # the table needs the width
        "state": state,
        "view": _presented(state, now),
        "can_control": request.user.has_perm(CONTROL_PERMISSION),
        "actions": [(action.value, _VERBS[action]) for action in Action],
        "placeholder_row": _PLACEHOLDER_ROW,
        "placeholder_log": _PLACEHOLDER_LOG,
    }
    return render(request, "mqtt/dashboard.html", context)


@never_cache
@staff_required
@require_GET
def state(request: HttpRequest) -> JsonResponse:
    """The whole dashboard as JSON: the script re-reads it on every (re)connection of its socket,
    so nothing that happened while it was away is missed, and for new log events."""
    return JsonResponse(dashboard_state())


@staff_required
@require_POST
def control(request: HttpRequest, pk: str, action: str) -> HttpResponse:
    connection = get_object_or_404(MqttConnection.objects.select_related("site"), pk=int(pk))
    if not request.user.has_perm(CONTROL_PERMISSION):
        if wants_json(request):
            return JsonResponse({"ok": False, "error": "you may not change connections"}, status=403)
        messages.error(request, "You may not start or stop connections.")
        return redirect("dashboard:index")
    verb = Action(action)  # the URL admits the three actions only
    control_connection(connection=connection, action=verb, actor=request.user)
    text = f"{_VERBS[verb]} requested for {connection.site.name} ({connection.site.code})."
    if wants_json(request):
        return JsonResponse(
            {"ok": True, "action": verb.value, "message": text, "connection": connection_row(connection.pk)}
        )
    messages.success(request, text)
    return redirect("dashboard:index")
