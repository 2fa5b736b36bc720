from django.apps import AppConfig


class WebConfig(AppConfig):
    """The people's web app: the sign-in page and the shell of the React app (frontend/)."""

    name = "apps.web"
