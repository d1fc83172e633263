"""Reads of the accounts app."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from accounts.constants import EXPIRING_WITHIN, KeyStatus
from accounts.models import ApiKey


class _RecentKeys:
    """API keys this process looked up recently, by prefix, for API_KEY_CACHE_SECONDS.

    A warm Lambda instance then authenticates without a query. The secret is still
    verified against the hash on every request, and expiry dates are still checked. A
    change made elsewhere (revocation, deactivation, scopes, limits) reaches this copy on
    the key's next counted request: the counter item carries the key's version, and a newer
    one makes the caller re-read the key (accounts.services.api_key_charge). The time bound
    is what remains when DynamoDB is unreachable, or was when the change was announced.
    The services forget a key they change after their transaction commits.
    """

    MAX_ENTRIES = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, prefix: str) -> ApiKey | None:
        entry = self._entries.get(prefix)
        if entry is None or self.clock() - entry[0] > settings.API_KEY_CACHE_SECONDS:
            return None
        return entry[1]

    def put(self, api_key: ApiKey) -> None:
        if settings.API_KEY_CACHE_SECONDS <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))  # the oldest
            self._entries[api_key.prefix] = (self.clock(), api_key)

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._entries.pop(prefix, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


recent_keys = _RecentKeys()


@receiver(setting_changed)
def _clear_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "API_KEY_CACHE_SECONDS":
        recent_keys.clear()


def api_key_get_by_prefix(prefix: str, *, fresh: bool = False) -> ApiKey | None:
    """The key with this prefix, with its organization (one query, unless recently read).

    `fresh` reads it from the database even if it was read recently (and keeps that copy).
    """
    api_key = None if fresh else recent_keys.get(prefix)
    if api_key is not None:
        return api_key
    try:
        found: ApiKey = ApiKey.objects.select_related("organization").get(prefix=prefix)
    except ApiKey.DoesNotExist:
        return None
    recent_keys.put(found)
    return found


def api_keys_with_status(
    queryset: QuerySet[ApiKey], status: KeyStatus, *, now: datetime | None = None
) -> QuerySet[ApiKey]:
    """The keys of `queryset` whose ApiKey.status is `status` now, as one filter."""
    now = now or timezone.now()
    not_revoked = queryset.filter(revoked=False)
    usable = not_revoked.filter(replaced_by__isnull=True)
    filters: dict[KeyStatus, QuerySet[ApiKey]] = {
        KeyStatus.REVOKED: queryset.filter(revoked=True),
        KeyStatus.EXPIRED: usable.filter(expiry_date__lte=now),
        # From the rotation on, in its grace period too (ApiKey.status).
        KeyStatus.ROTATED_OUT: not_revoked.filter(replaced_by__isnull=False),
        KeyStatus.EXPIRING: usable.filter(
            expiry_date__gt=now, expiry_date__lte=now + EXPIRING_WITHIN
        ),
        KeyStatus.ACTIVE: usable.filter(
            Q(expiry_date__isnull=True) | Q(expiry_date__gt=now + EXPIRING_WITHIN)
        ),
    }
    return filters[status]


# A usable key nobody has used for this long is worth a question to its organization.
UNUSED_FOR = timedelta(days=30)


def api_keys_unused(queryset: QuerySet[ApiKey], *, now: datetime | None = None) -> QuerySet[ApiKey]:
    """The usable keys of `queryset` (not revoked, not expired) not used for UNUSED_FOR:
    last used before then, or never used and issued before then."""
    now = now or timezone.now()
    since = now - UNUSED_FOR
    usable = queryset.filter(revoked=False, replaced_by__isnull=True).filter(
        Q(expiry_date__isnull=True) | Q(expiry_date__gt=now)
    )
    return usable.filter(
        Q(last_used_at__lt=since) | Q(last_used_at__isnull=True, created__lt=since)
    )
