"""Writes of the accounts app: the API key lifecycle, organizations, authenticating with a
key, counting a key's requests against its limits, and staff sign-in settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import rate_limits
from accounts.constants import API_KEY_SHAPE, DEFAULT_SCOPES, LAST_USED_RESOLUTION_SECONDS
from accounts.exceptions import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    OrganizationInactive,
    QuotaExceeded,
    RateLimited,
    RequestExceedsLimits,
)
from accounts.models import ApiKey, Organization, StaffProfile
from accounts.rate_limits import Limits, Refusal, Usage
from accounts.selectors import api_key_get_by_prefix, recent_keys

# Verifying against this keeps an unknown prefix as slow as a wrong secret.
_DUMMY_HASH = ApiKey.objects.key_generator.hash("00000000.0000000000000000000000000000000000")

# What organization_update may change.
_ORGANIZATION_FIELDS = ("name", "slug", "is_active", "contact_name", "contact_email")


@transaction.atomic
def api_key_issue(
    *,
    organization: Organization,
    name: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    expiry_date: datetime | None = None,
    created_by: User | None = None,
    rate_limit_per_minute: int | None = None,
    daily_quota: int | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns it with its plaintext, which is never stored or shown again.

    Limits left None get the defaults (API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE, _DAILY_QUOTA).
    """
    api_key = ApiKey(
        organization=organization,
        name=name,
        scopes=list(scopes),
        expiry_date=expiry_date,
        created_by=created_by,
    )
    if rate_limit_per_minute is not None:
        api_key.rate_limit_per_minute = rate_limit_per_minute
    if daily_quota is not None:
        api_key.daily_quota = daily_quota
    plaintext = ApiKey.objects.assign_key(api_key)
    api_key.full_clean()
    api_key.save()
    return api_key, plaintext


@transaction.atomic
def api_key_update(
    *,
    api_key: ApiKey,
    name: str,
    scopes: Sequence[str],
    expiry_date: datetime | None,
    rate_limit_per_minute: int | None = None,
    daily_quota: int | None = None,
) -> ApiKey:
    """Change what a key may do; limits left None keep their values.

    Every instance applies the change on the key's next request (a new version, announced
    after commit). A revoked key cannot be changed.
    """
    stored = ApiKey.objects.select_for_update().only("revoked", "version").get(pk=api_key.pk)
    if stored.revoked:
        raise ValidationError("A revoked API key cannot be changed.")
    api_key.name = name
    api_key.scopes = list(scopes)
    api_key.expiry_date = expiry_date
    if rate_limit_per_minute is not None:
        api_key.rate_limit_per_minute = rate_limit_per_minute
    if daily_quota is not None:
        api_key.daily_quota = daily_quota
    api_key.version = stored.version + 1
    api_key.full_clean()
    api_key.save(
        update_fields=[
            "name",
            "scopes",
            "expiry_date",
            "rate_limit_per_minute",
            "daily_quota",
            "version",
        ]
    )
    _announce_on_commit({api_key.prefix: api_key.version})
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, revoked_by: User | None = None) -> ApiKey:
    """Revoke a key for good; every instance refuses it from its next request.

    Revoking a revoked key changes nothing.
    """
    locked: ApiKey = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not locked.revoked:
        locked.revoked = True
        locked.revoked_at = timezone.now()
        locked.revoked_by = revoked_by
        locked.version += 1
        locked.save(update_fields=["revoked", "revoked_at", "revoked_by", "version"])
        _announce_on_commit({locked.prefix: locked.version})
    return locked


@transaction.atomic
def organization_update(*, organization: Organization, data: Mapping[str, Any]) -> Organization:
    """Change an organization's name, slug, contact or `is_active` (fields absent from
    `data` keep their values).

    Deactivating an organization refuses its keys on every instance from their next
    request, and reactivating it accepts them again: each of its keys that is not revoked
    gets a new version, announced after commit.
    """
    stored = Organization.objects.select_for_update().get(pk=organization.pk)
    was_active = stored.is_active
    for field in _ORGANIZATION_FIELDS:
        if field in data:
            setattr(stored, field, data[field])
    stored.full_clean()
    stored.save()
    if stored.is_active != was_active:
        keys = ApiKey.objects.filter(organization=stored, revoked=False)
        keys.update(version=F("version") + 1)
        _announce_on_commit(dict(keys.values_list("prefix", "version")))
    return stored


def _announce_on_commit(versions: dict[str, int]) -> None:
    """After commit: forget the keys here, and stamp their new versions for every instance.

    Not before: until the commit another thread would read (and keep) the old row again,
    and a stamp of a change that rolled back would announce a version no row has.
    """

    def announce() -> None:
        for prefix in versions:
            recent_keys.forget(prefix)
        rate_limits.announce_key_versions(versions)

    transaction.on_commit(announce)


def api_key_authenticate(key: str) -> ApiKey:
    """The usable ApiKey for a plaintext key, or the domain error saying why not.

    Revoked, expired and inactive-organization answers are given only once the secret
    has been verified, so they tell nothing to someone guessing keys.
    """
    match = API_KEY_SHAPE.fullmatch(key)
    api_key = api_key_get_by_prefix(match.group(1)) if match else None
    if api_key is None:
        ApiKey.objects.key_generator.verify(key, _DUMMY_HASH)
        raise ApiKeyInvalid()
    if not api_key.is_valid(key):
        raise ApiKeyInvalid()
    _refuse_unusable(api_key)
    _touch_last_used(api_key)
    return api_key


def _refuse_unusable(api_key: ApiKey) -> None:
    if api_key.revoked:
        raise ApiKeyRevoked()
    if api_key.has_expired:
        raise ApiKeyExpired()
    if not api_key.organization.is_active:
        raise OrganizationInactive()


def _touch_last_used(api_key: ApiKey) -> None:
    """Record use at most once per LAST_USED_RESOLUTION_SECONDS: not a write per request."""
    now = timezone.now()
    threshold = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is None or api_key.last_used_at < threshold:
        api_key.last_used_at = now
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


@dataclass(frozen=True, slots=True)
class Metered:
    """An authenticated key as currently stored, and its usage of its limits."""

    api_key: ApiKey
    usage: Usage


def api_key_charge(*, api_key: ApiKey, units: int) -> Metered:
    """Count a request of `units` CPFs against its key's limits, across every instance.

    One DynamoDB call in the common case and no query. Raises RequestExceedsLimits for a
    request larger than a limit (it could never pass), RateLimited or QuotaExceeded when the
    key has no room for it now (it is not counted). When the counter item announces a newer
    version of the key than this process holds, the key is read again and refused if it can
    no longer be used (ApiKeyRevoked, OrganizationInactive, ApiKeyExpired).
    """
    limits = Limits(per_minute=api_key.rate_limit_per_minute, per_day=api_key.daily_quota)
    for limit, per in ((limits.per_minute, "minute"), (limits.per_day, "day")):
        if units > limit:
            raise RequestExceedsLimits(
                f"This request has {units} CPFs; this API key may score at most {limit} per {per}."
            )
    counted = rate_limits.count(api_key.prefix, units=units, limits=limits)
    current = _as_announced(api_key, counted.key_version)
    if counted.refused is Refusal.DAILY_QUOTA:
        raise QuotaExceeded(usage=counted.usage)
    if counted.refused is Refusal.RATE_LIMIT:
        raise RateLimited(usage=counted.usage)
    return Metered(current, counted.usage)


def api_key_usage_get(*, api_key: ApiKey) -> Metered:
    """A key's usage of its limits now, counting nothing (one DynamoDB read, no query).

    Like api_key_charge, it re-reads a key whose newer version is announced, and refuses
    it if it can no longer be used.
    """
    limits = Limits(per_minute=api_key.rate_limit_per_minute, per_day=api_key.daily_quota)
    peeked = rate_limits.peek(api_key.prefix, limits=limits)
    return Metered(_as_announced(api_key, peeked.key_version), peeked.usage)


def _as_announced(api_key: ApiKey, announced_version: int | None) -> ApiKey:
    """The key itself, or, if a newer version of it was announced, the stored one."""
    if announced_version is None or announced_version <= api_key.version:
        return api_key
    stored = api_key_get_by_prefix(api_key.prefix, fresh=True)
    if stored is None:
        raise ApiKeyInvalid()
    _refuse_unusable(stored)
    return stored


# ==============================================================================
# Staff
# ==============================================================================
def totp_enrolment_device(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator a staff member is enrolling (created on first ask)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm an enrolling authenticator with a code it shows; the user keeps only it."""
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    return True


def staff_language_set(*, user: User, language: str) -> StaffProfile:
    """Keep the admin language a staff member chose."""
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.language = language
    profile.full_clean()
    profile.save(update_fields=["language"])
    return profile
