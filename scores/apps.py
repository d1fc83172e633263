from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoresConfig(AppConfig):
    name = "scores"
    verbose_name = _("Scores and credit profiles")

    def ready(self) -> None:
        from scores import checks  # noqa: F401  (registers the system checks)
