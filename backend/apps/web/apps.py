from django.apps import AppConfig


class WebConfig(AppConfig):
    """The people's web app: the sign-in page and the shell of the React app (frontend/)."""

    name = "apps.web"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the project's deploy checks)
