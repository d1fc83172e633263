"""Using a key: authenticating with it, and counting its requests against its limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts import rate_limits
from accounts.constants import API_KEY_SHAPE, LAST_USED_RESOLUTION_SECONDS
from accounts.exceptions import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    OrganizationInactive,
    QuotaExceeded,
    RateLimited,
    RequestExceedsLimits,
)
from accounts.models import ApiKey
from accounts.rate_limits import Limits, Refusal, Usage
from accounts.selectors import api_key_get_by_prefix

# Verifying against this keeps an unknown prefix as slow as a wrong secret.
_DUMMY_HASH = ApiKey.objects.key_generator.hash("00000000.0000000000000000000000000000000000")


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
    # Called once the secret is verified: the refusal may say whose key it was.
    owner = api_key.organization_id
    if api_key.revoked:
        raise ApiKeyRevoked(organization_id=owner)
    if api_key.has_expired:
        raise ApiKeyExpired(organization_id=owner)
    if not api_key.organization.is_active:
        raise OrganizationInactive(organization_id=owner)


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

    No DynamoDB call while the process holds a lease of the key's units, one a lease
    otherwise, and no query. Raises RequestExceedsLimits for a
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


def api_key_announcement_key(*, api_key: ApiKey) -> str | None:
    """The key of the item to read beside the score cache's (in the same call) for the key's
    announced version, or None when this process read it less than a second ago. A key
    served from a lease makes no DynamoDB call of its own: this read is how a change made
    elsewhere (revocation, scopes, limits) reaches this process."""
    return rate_limits.version_key(api_key.prefix)


def api_key_confirm(*, api_key: ApiKey, items: Mapping[str, Mapping[str, Any]] | None) -> ApiKey:
    """The key as currently stored, given the items read for api_key_announcement_key: the
    key itself, or, if a newer version is announced, the stored one; refused (ApiKeyRevoked,
    OrganizationInactive, ApiKeyExpired) if it can no longer be used. `items` None: the read
    failed, and the next request reads again."""
    return _as_announced(api_key, rate_limits.announced_version(api_key.prefix, items))


def _as_announced(api_key: ApiKey, announced_version: int | None) -> ApiKey:
    """The key itself, or, if a newer version of it was announced, the stored one."""
    if announced_version is None or announced_version <= api_key.version:
        return api_key
    stored = api_key_get_by_prefix(api_key.prefix, fresh=True)
    if stored is None:
        raise ApiKeyInvalid()
    _refuse_unusable(stored)
    return stored
