"""Who may do what through the API.

Reading is for any authenticated user, limited to visible sites by the querysets (a site the user may
not see is a 404, never a 403, so its existence does not leak). Writing and start/stop/restart are
for staff holding the model permission (add / change / delete MQTT connection; start, stop and
restart count as change), as in the admin and the dashboard: on an object the user can see the check
runs after the lookup, so an invisible object is still a 404 and a visible one a 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

_PERMISSION_BY_METHOD = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def _may_write(request: Request, view: APIView) -> bool:
    user = request.user
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    verb = _PERMISSION_BY_METHOD.get(request.method or "", "change")
    if verb == "add" and getattr(view, "detail", False):
        verb = "change"  # start/stop/restart: a POST on an existing connection changes it
    return user.has_perm(f"mqtt.{verb}_mqttconnection")


class IsStaffForWrites(BasePermission):
    """Safe methods for everyone the view lets in; other methods for staff. On detail routes the
    staff check waits for the object, so that objects the user cannot see stay 404."""

    message = (
        "Only staff with the permission to change MQTT connections may change, start, stop or restart them."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS or getattr(view, "detail", False):
            return True
        return _may_write(request, view)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        return request.method in SAFE_METHODS or _may_write(request, view)
