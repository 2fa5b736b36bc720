"""How people are named to other people: customers never learn staff usernames.

Every place that shows who did something (logs, alerts, exports) names the person through here, so
the rule lives in one place."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

OPERATOR = "operator"


def display_actor(
    user: AbstractBaseUser | None, viewer: AbstractBaseUser | AnonymousUser | None
) -> str | None:
    """The name ``viewer`` may see for ``user``: the username for staff viewers and for one's own
    actions, else "operator". None when nobody (the system) acted."""
    if user is None:
        return None
    if viewer is not None and (getattr(viewer, "is_staff", False) or viewer.pk == user.pk):
        return user.get_username()
    return OPERATOR
