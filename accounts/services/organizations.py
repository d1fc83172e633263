"""Organizations: creating and changing them, deactivation included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F

from accounts.constants import LifecycleAction
from accounts.models import ApiKey, Organization
from accounts.services.keys import announce_on_commit
from accounts.services.lifecycle import (
    ORGANIZATION_SETTINGS,
    Actor,
    lifecycle_record,
    settings_of,
)


@transaction.atomic
def organization_create(*, data: Mapping[str, Any], actor: Actor = None) -> Organization:
    """Create an organization from its settings (name, slug, is_active, contact)."""
    organization = Organization(**{k: v for k, v in data.items() if k in ORGANIZATION_SETTINGS})
    organization.full_clean()
    organization.save()
    lifecycle_record(
        action=LifecycleAction.ORGANIZATION_CREATED,
        organization=organization,
        actor=actor,
        after=settings_of(organization, ORGANIZATION_SETTINGS),
    )
    return organization


@transaction.atomic
def organization_update(
    *, organization: Organization, data: Mapping[str, Any], actor: Actor = None
) -> Organization:
    """Change an organization's name, slug, contact or `is_active` (fields absent from
    `data` keep their values).

    Deactivating an organization refuses its keys on every instance from their next
    request, and reactivating it accepts them again: each of its keys that is not revoked
    gets a new version, announced after commit.
    """
    stored = Organization.objects.select_for_update().get(pk=organization.pk)
    before = settings_of(stored, ORGANIZATION_SETTINGS)
    for field in ORGANIZATION_SETTINGS:
        if field in data:
            setattr(stored, field, data[field])
    stored.full_clean()
    after = settings_of(stored, ORGANIZATION_SETTINGS)
    if after == before:
        return stored
    stored.save()
    if after["is_active"] != before["is_active"]:
        keys = ApiKey.objects.filter(organization=stored, revoked=False)
        keys.update(version=F("version") + 1)
        announce_on_commit(dict(keys.values_list("prefix", "version")))
    action = (
        LifecycleAction.ORGANIZATION_CHANGED
        if after["is_active"] == before["is_active"]
        else LifecycleAction.ORGANIZATION_ACTIVATED
        if after["is_active"]
        else LifecycleAction.ORGANIZATION_DEACTIVATED
    )
    lifecycle_record(action=action, organization=stored, actor=actor, before=before, after=after)
    return stored
