"""The outbox of profile changes whose cached scores must be invalidated."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PendingInvalidation(models.Model):
    """A cached score to invalidate: the outbox of profile changes (one row per CPF).

    Written in the same transaction as the profile change, so a change is never committed
    without it; deleted once the tombstone is in the cache (scores.services.invalidations).
    A crash between the commit and the cache write, or DynamoDB being down, leaves the row
    for the next drain: after the import, at the next import, on the schedule, or from
    `invalidate_scores --pending`.
    """

    cpf_hash = models.CharField(_("CPF hash"), max_length=64, primary_key=True, editable=False)
    profile_version = models.PositiveIntegerField(_("profile version"), editable=False)
    recorded_at = models.DateTimeField(_("recorded at"), editable=False)

    class Meta:
        verbose_name = _("pending cache invalidation")
        verbose_name_plural = _("pending cache invalidations")

    def __str__(self) -> str:
        return f"{self.cpf_hash[:12]}… v{self.profile_version}"
