"""Writes of the accounts app: the API key lifecycle, and authenticating with a key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import API_KEY_SHAPE, DEFAULT_SCOPES, LAST_USED_RESOLUTION_SECONDS
from accounts.exceptions import ApiKeyExpired, ApiKeyInvalid, ApiKeyRevoked, OrganizationInactive
from accounts.models import ApiKey, Organization, StaffProfile
from accounts.selectors import api_key_get_by_prefix, recent_keys

# Verifying against this keeps an unknown prefix as slow as a wrong secret.
_DUMMY_HASH = ApiKey.objects.key_generator.hash("00000000.0000000000000000000000000000000000")


@transaction.atomic
def api_key_issue(
    *,
    organization: Organization,
    name: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    expiry_date: datetime | None = None,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns it with its plaintext, which is never stored or shown again."""
    api_key = ApiKey(
        organization=organization,
        name=name,
        scopes=list(scopes),
        expiry_date=expiry_date,
        created_by=created_by,
    )
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
) -> ApiKey:
    """Change what a key may do. A revoked key cannot be changed."""
    if api_key.revoked:
        raise ValidationError("A revoked API key cannot be changed.")
    api_key.name = name
    api_key.scopes = list(scopes)
    api_key.expiry_date = expiry_date
    api_key.full_clean()
    api_key.save(update_fields=["name", "scopes", "expiry_date"])
    recent_keys.forget(api_key.prefix)  # this process applies the change at once
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, revoked_by: User | None = None) -> ApiKey:
    """Revoke a key for good. Revoking a revoked key changes nothing."""
    locked: ApiKey = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not locked.revoked:
        locked.revoked = True
        locked.revoked_at = timezone.now()
        locked.revoked_by = revoked_by
        locked.save(update_fields=["revoked", "revoked_at", "revoked_by"])
    recent_keys.forget(locked.prefix)  # this process stops accepting it at once
    return locked


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
    if api_key.revoked:
        raise ApiKeyRevoked()
    if api_key.has_expired:
        raise ApiKeyExpired()
    if not api_key.organization.is_active:
        raise OrganizationInactive()
    _touch_last_used(api_key)
    return api_key


def _touch_last_used(api_key: ApiKey) -> None:
    """Record use at most once per LAST_USED_RESOLUTION_SECONDS: not a write per request."""
    now = timezone.now()
    threshold = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is None or api_key.last_used_at < threshold:
        api_key.last_used_at = now
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


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
