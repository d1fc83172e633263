"""Organizations that consult scores, the API keys they consult with, and the staff."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_api_key.models import AbstractAPIKey

from accounts.constants import (
    DEFAULT_PURPOSE,
    EXPIRING_WITHIN,
    KeyStatus,
    LifecycleAction,
    Purpose,
    Scope,
)
from scoreportal.models import AppendOnlyRecord


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


def validate_networks(value: Any) -> None:
    """Allowed networks are a list of distinct IPv4 or IPv6 networks in CIDR notation, with
    no host bits set (192.0.2.0/24, 2001:db8::/32; a single address is /32 or /128)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Allowed networks must be a list of CIDR strings."))
    bad = []
    for item in value:
        try:
            ipaddress.ip_network(item, strict=True)
        except ValueError:
            network = _network_of_host(item)
            if network is not None:
                # 192.168.1.5/24: an address with its prefix; say which network it means.
                raise ValidationError(
                    _(
                        "%(given)s has host bits set: the network with that prefix is "
                        "%(network)s. Write %(network)s for the network, or %(address)s for "
                        "that one address."
                    ),
                    params={
                        "given": item[:45],
                        "network": str(network),
                        "address": f"{item.split('/')[0]}/{network.max_prefixlen}",
                    },
                ) from None
            bad.append(item[:45])
    if bad:
        raise ValidationError(
            _("Not a network in CIDR notation (like 192.0.2.0/24 or 2001:db8::/32): %(bad)s"),
            params={"bad": ", ".join(bad)},
        )
    if len({str(ipaddress.ip_network(item)) for item in value}) != len(value):
        raise ValidationError(_("Allowed networks must not repeat."))


def _network_of_host(item: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network an address written with a prefix belongs to, or None if `item` is not
    that (not an address, or no prefix)."""
    if "/" not in item:
        return None
    try:
        return ipaddress.ip_network(item, strict=False)
    except ValueError:
        return None


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
    allowed_networks = models.JSONField(
        _("allowed networks"),
        default=list,
        blank=True,
        validators=[validate_networks],
        help_text=_(
            "Addresses the key may be used from, as CIDR networks (192.0.2.0/24, "
            "2001:db8::/32). Empty: any address."
        ),
    )
    default_purpose = models.CharField(
        _("default purpose"),
        max_length=32,
        choices=Purpose.choices,
        default=DEFAULT_PURPOSE,
        help_text=_("Recorded for a request that does not say why it consults a score."),
    )
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="replaced_by",
        verbose_name=_("replaces"),
        help_text=_("The key this one replaced when it was rotated."),
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

    def scope_labels(self) -> str:
        """The scopes as staff read them ("Score one CPF, Score CPFs in batches")."""
        labels = dict(Scope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in self.scopes)

    def allows_address(self, address: str | None) -> bool:
        """Whether a request from `address` may use the key (no allowlist: any address)."""
        if not self.allowed_networks:
            return True
        if address is None:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(network) for network in self.allowed_networks)

    @property
    def status(self) -> KeyStatus:
        """One word for the key's state, as the admin shows it."""
        now = timezone.now()
        if self.revoked:
            return KeyStatus.REVOKED
        # Replaced from the rotation on: in its grace period it still works, until its
        # expiry (the key's page says when), but it is no longer the one to use.
        if self.pk and hasattr(self, "replaced_by"):
            return KeyStatus.ROTATED_OUT
        if self.expiry_date is not None and self.expiry_date <= now:
            return KeyStatus.EXPIRED
        if self.expiry_date is not None and self.expiry_date <= now + EXPIRING_WITHIN:
            return KeyStatus.EXPIRING
        return KeyStatus.ACTIVE


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


class StaffAuthenticator(TOTPDevice):  # type: ignore[misc]  # django-otp is untyped
    """A staff member's authenticator app (django-otp's TOTP device), under a name and
    labels the staff read in their language: django-otp marks none of its strings for
    translation."""

    class Meta:
        proxy = True
        verbose_name = _("authenticator")
        verbose_name_plural = _("authenticators")

    def __str__(self) -> str:
        return gettext("%(username)s's authenticator") % {"username": self.user.get_username()}


class StaffSignIn(AccessLog):  # type: ignore[misc]  # axes is untyped
    """A successful staff sign-in (and its sign-out), as django-axes records it."""

    class Meta:
        proxy = True
        verbose_name = _("staff sign-in")
        verbose_name_plural = _("staff sign-ins")

    def __str__(self) -> str:
        return gettext("%(username)s at %(moment)s") % _who_and_when(self)


class StaffSignInFailure(AccessFailureLog):  # type: ignore[misc]  # axes is untyped
    """A failed staff sign-in, as django-axes records it."""

    class Meta:
        proxy = True
        verbose_name = _("failed staff sign-in")
        verbose_name_plural = _("failed staff sign-ins")

    def __str__(self) -> str:
        return gettext("%(username)s at %(moment)s") % _who_and_when(self)


class StaffLockout(AccessAttempt):  # type: ignore[misc]  # axes is untyped
    """Failed sign-ins counted by django-axes for a username or a client IP; at the limit,
    a lockout. Deleting one unlocks."""

    class Meta:
        proxy = True
        verbose_name = _("sign-in lockout")
        verbose_name_plural = _("sign-in lockouts")

    def __str__(self) -> str:
        return gettext("%(username)s at %(moment)s") % _who_and_when(self)


def _who_and_when(record: Any) -> dict[str, str]:
    """A django-axes record's username and time, for its page's title (axes's own are
    English sentences)."""
    moment = record.attempt_time
    return {
        "username": record.username or "-",
        "moment": date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
        if moment
        else "-",
    }


class KeyLifecycleEvent(AppendOnlyRecord):
    """A change to a key or an organization: who, when, what, the values before and after.

    Append-only, like the audit trail (the database refuses UPDATE, DELETE and TRUNCATE);
    written only by the services in accounts/services.py. Keys and organizations are
    referenced with PROTECT, and the actor's username is copied: the record outlives
    renames.
    """

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    action = models.CharField(
        _("action"), max_length=32, choices=LifecycleAction.choices, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="lifecycle_events",
        editable=False,
        verbose_name=_("organization"),
    )
    api_key = models.ForeignKey(
        ApiKey,
        to_field="prefix",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lifecycle_events",
        editable=False,
        verbose_name=_("API key"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("by"),
    )
    actor_name = models.CharField(
        _("by (name)"),
        max_length=150,
        blank=True,
        editable=False,
        help_text=_("The staff member's username, or the command that made the change."),
    )
    # Why, where a bank asks for it: a revocation's reason, as its staff member gave it.
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="", editable=False)
    before = models.JSONField(_("before"), default=dict, blank=True, editable=False)
    after = models.JSONField(_("after"), default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("key lifecycle event")
        verbose_name_plural = _("key lifecycle record")
        indexes = [
            models.Index(fields=["api_key", "-occurred_at"], name="lifecycle_key_idx"),
            models.Index(fields=["organization", "-occurred_at"], name="lifecycle_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.api_key_id or self.organization}"


class KeyHandoff(models.Model):
    """A just-issued key on its way to the staff member who issued it, for a minute.

    The admin issues a key on a POST and shows it on the GET it redirects to (so a reload
    cannot issue a second key). In between, the key is split in two: this row holds it
    XORed with a random one-time pad, and the pad travels only in a short-lived cookie to
    the issuer's browser. Neither half alone reveals anything; the page that shows the key
    deletes the row, so it is shown once (accounts/services/handoff.py).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey(
        ApiKey,
        to_field="prefix",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        verbose_name=_("API key"),
    )
    issued_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        verbose_name=_("issued to"),
    )
    masked_key = models.BinaryField(_("masked key"), editable=False)
    expires_at = models.DateTimeField(_("expires at"), editable=False)

    class Meta:
        verbose_name = _("key hand-off")
        verbose_name_plural = _("key hand-offs")

    def __str__(self) -> str:
        return str(self.api_key_id)
