from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from audit.retention import AUDIT_RETENTION_MIN_DAYS

        # At start-up (Lambda's init included), before anything could prune too early.
        if settings.AUDIT_RETENTION_DAYS < AUDIT_RETENTION_MIN_DAYS:
            raise ImproperlyConfigured(
                f"AUDIT_RETENTION_DAYS must be at least {AUDIT_RETENTION_MIN_DAYS} days "
                "(six months)."
            )
