"""Reads of the accounts app."""

from __future__ import annotations

from accounts.models import ApiKey


def api_key_get_by_prefix(prefix: str) -> ApiKey | None:
    """The key with this prefix, with its organization (one query), or None."""
    try:
        api_key: ApiKey = ApiKey.objects.select_related("organization").get(prefix=prefix)
    except ApiKey.DoesNotExist:
        return None
    return api_key
