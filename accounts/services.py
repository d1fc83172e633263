"""Writes of the accounts app: the API key lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.constants import DEFAULT_SCOPES
from accounts.models import ApiKey, Organization
from accounts.selectors import recent_keys


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
