from django.apps import AppConfig


class ScoresConfig(AppConfig):
    name = "scores"
    verbose_name = "Scores, credit profiles and audit"

    def ready(self) -> None:
        from scores import checks  # noqa: F401  (registers the system checks)
