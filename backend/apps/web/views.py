"""The React app's shell and the sign-in page.

The app (frontend/, built by Vite into frontend/dist/) is served from one HTML page for every route
the app owns; its scripts and styles are static files under /static/app/ (WhiteNoise). Signing in
and out are Django's own views, in the app's style, for customers and staff alike.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from config.login_throttle import is_locked_out


def _shell_path() -> Path | None:
    """The built index.html: beside the build (development, `make demo`) or, after `collectstatic`,
    in STATIC_ROOT (an image that keeps only the collected files)."""
    for candidate in (
        settings.FRONTEND_DIST / "index.html",
        Path(settings.STATIC_ROOT) / "app" / "index.html",
    ):
        if candidate.is_file():
            return candidate
    return None


@cache
def _cached_shell(path: Path, mtime: float) -> str:
    return path.read_text(encoding="utf-8")


@never_cache
@ensure_csrf_cookie  # the app reads the CSRF token from the cookie for its POSTs
@login_required
def app_shell(request: HttpRequest, **_route: object) -> HttpResponse:
    path = _shell_path()
    if path is None:
        return render(request, "web/not_built.html", status=503)
    return HttpResponse(_cached_shell(path, path.stat().st_mtime))


class SignInForm(AuthenticationForm):
    """Django's sign-in form, saying so when the username is locked out from this address (the
    admin's keeps its plain "enter a correct username and password")."""

    def clean(self) -> dict[str, object]:
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username")
            if username and is_locked_out(username=username, request=self.request):
                raise ValidationError(
                    "Too many failed sign-ins: try again in a few minutes.", code="locked_out"
                ) from None
            raise


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True
