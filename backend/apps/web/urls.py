"""The app's routes (each answered by the same shell; the app routes on the client), sign in and out."""

from django.contrib.auth.views import LogoutView
from django.urls import path, re_path

from apps.web import views

app_name = "web"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("", views.app_shell, name="app"),
    re_path(r"^sites/(?P<path>.*)$", views.app_shell, name="app-sites"),
    re_path(r"^ops/(?P<path>.*)$", views.app_shell, name="app-ops"),
    re_path(r"^alerts/(?P<path>.*)$", views.app_shell, name="app-alerts"),
]
