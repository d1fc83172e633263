"""Organizations that consult scores, and the API keys they consult with."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from accounts.constants import Scope


class Organization(models.Model):
    """A partner bank or internal system: the party accountable for its keys' queries."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Keys of an inactive organization are refused.",
    )
    contact_name = models.CharField(max_length=120, blank=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_scopes(value: Any) -> None:
    """Scopes are a list of distinct `Scope` values."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Scopes must be a list of strings.")
    unknown = sorted(set(value) - set(Scope.values))
    if unknown:
        raise ValidationError("Unknown scope(s): %(scopes)s", params={"scopes": ", ".join(unknown)})
    if len(set(value)) != len(value):
        raise ValidationError("Scopes must not repeat.")


def default_rate_limit_per_minute() -> int:
    return int(settings.API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE)


def default_daily_quota() -> int:
    return int(settings.API_KEY_DEFAULT_DAILY_QUOTA)


class ApiKey(AbstractAPIKey):
    """An organization's credential for the score API.

    Only the prefix and a SHA-512 hash of the key are stored (djangorestframework-api-key);
    the plaintext is shown once, at issue. Revocation is permanent. `last_used_at` is
    refreshed at most once a minute, never with a write per request. The limits are counted
    across all instances (accounts/rate_limits.py). `version` grows with every change that
    every instance must apply at once; the services announce it after commit.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="api_keys"
    )
    scopes = models.JSONField(default=list, validators=[validate_scopes])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("rate limit per minute"),
        default=default_rate_limit_per_minute,
        validators=[MinValueValidator(1)],
        help_text=_("CPFs per minute, across all servers. A batch of N CPFs counts N."),
    )
    daily_quota = models.PositiveIntegerField(
        _("daily quota"),
        default=default_daily_quota,
        validators=[MinValueValidator(1)],
        help_text=_("CPFs per day (São Paulo time), across all servers."),
    )
    version = models.PositiveIntegerField(
        _("version"),
        default=1,
        editable=False,
        help_text=_(
            "Grows with every change all servers must apply at once: revocation, scopes, "
            "limits, the organization's deactivation."
        ),
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked=False, revoked_at__isnull=True)
                | models.Q(revoked=True, revoked_at__isnull=False),
                name="apikey_revoked_has_revoked_at",
            ),
            models.CheckConstraint(
                condition=models.Q(rate_limit_per_minute__gte=1, daily_quota__gte=1),
                name="apikey_limits_positive",
            ),
        ]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
