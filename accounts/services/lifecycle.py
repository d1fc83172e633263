"""The key lifecycle record: the one writer of KeyLifecycleEvent rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from accounts.constants import LifecycleAction
from accounts.models import ApiKey, KeyLifecycleEvent, Organization

# Who made a change: a staff member, or the command or process that made it.
Actor = User | str | None

# The settings of a key that the record compares (never its hash).
KEY_SETTINGS = (
    "name",
    "scopes",
    "expiry_date",
    "rate_limit_per_minute",
    "daily_quota",
    "allowed_networks",
    "default_purpose",
)
ORGANIZATION_SETTINGS = ("name", "slug", "is_active", "contact_name", "contact_email")


def actor_fields(actor: Actor) -> tuple[User | None, str]:
    """The user and the name a record keeps of who acted (the name outlives the account)."""
    if isinstance(actor, User):
        return actor, actor.get_username()
    return None, actor or ""


def settings_of(instance: ApiKey | Organization, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a key or an organization, as JSON can hold them."""
    return {name: _jsonable(getattr(instance, name)) for name in names}


def lifecycle_record(
    *,
    action: LifecycleAction,
    organization: Organization,
    actor: Actor,
    api_key: ApiKey | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
) -> KeyLifecycleEvent:
    """Record a change, in the caller's transaction (it is committed with the change).

    `before` and `after` keep only what changed when both are given; `reason` is why, as
    the staff member gave it (a revocation's).
    """
    before, after = dict(before or {}), dict(after or {})
    if before and after:
        changed = {
            name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
        }
        before = {name: value for name, value in before.items() if name in changed}
        after = {name: value for name, value in after.items() if name in changed}
    user, name = actor_fields(actor)
    return KeyLifecycleEvent.objects.create(
        action=action,
        organization=organization,
        api_key=api_key,
        actor=user,
        actor_name=name,
        before=before,
        after=after,
        reason=reason,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
