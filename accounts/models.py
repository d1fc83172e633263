"""Organizations that consult scores, the API keys they consult with, and the staff."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from accounts.constants import Scope


class Organization(models.Model):
    """A partner bank or internal system: the party accountable for its keys' queries."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(
        _("slug"),
        max_length=60,
        unique=True,
        help_text=_("Short identifier used in commands and logs, e.g. banco-exemplo."),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Keys of an inactive organization are refused."),
    )
    contact_name = models.CharField(_("contact name"), max_length=120, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name


def validate_scopes(value: Any) -> None:
    """Scopes are a list of distinct `Scope` values."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Scopes must be a list of strings."))
    unknown = sorted(set(value) - set(Scope.values))
    if unknown:
        raise ValidationError(
            _("Unknown scope(s): %(scopes)s"), params={"scopes": ", ".join(unknown)}
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Scopes must not repeat."))


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

    # The library's fields, redeclared (same columns) for labels in the staff's language.
    prefix = models.CharField(_("prefix"), max_length=8, unique=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    name = models.CharField(
        _("name"),
        max_length=50,
        blank=False,
        default=None,
        help_text=_("What the key is for, e.g. the partner's system. Need not be unique."),
    )
    revoked = models.BooleanField(
        _("revoked"),
        blank=True,
        default=False,
        help_text=_("A revoked key is refused for good; revocation cannot be undone."),
    )
    expiry_date = models.DateTimeField(
        _("expires"),
        blank=True,
        null=True,
        help_text=_("After this moment the key is refused. Empty: it does not expire."),
    )

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("organization"),
    )
    scopes = models.JSONField(_("scopes"), default=list, validators=[validate_scopes])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
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
        verbose_name = _("API key")  # type: ignore[assignment]  # the library's is a str
        verbose_name_plural = _("API keys")  # type: ignore[assignment]
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


class StaffProfile(models.Model):
    """A staff member's preferences: today, the admin's language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_profile",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return str(self.user)


class StaffSignIn(AccessLog):  # type: ignore[misc]  # axes is untyped
    """A successful staff sign-in (and its sign-out), as django-axes records it."""

    class Meta:
        proxy = True
        verbose_name = _("staff sign-in")
        verbose_name_plural = _("staff sign-ins")


class StaffSignInFailure(AccessFailureLog):  # type: ignore[misc]  # axes is untyped
    """A failed staff sign-in, as django-axes records it."""

    class Meta:
        proxy = True
        verbose_name = _("failed staff sign-in")
        verbose_name_plural = _("failed staff sign-ins")


class StaffLockout(AccessAttempt):  # type: ignore[misc]  # axes is untyped
    """Failed sign-ins counted by django-axes for a username or a client IP; at the limit,
    a lockout. Deleting one unlocks."""

    class Meta:
        proxy = True
        verbose_name = _("sign-in lockout")
        verbose_name_plural = _("sign-in lockouts")
