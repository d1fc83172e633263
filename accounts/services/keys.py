"""The API key lifecycle: issue, change, rotate, revoke. Each change is recorded
in the lifecycle record, in the same transaction, and reaches every instance on the key's
next request (a new version, announced after commit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts import rate_limits
from accounts.constants import DEFAULT_ROTATION_GRACE, DEFAULT_SCOPES, LifecycleAction
from accounts.exceptions import ExpiryNotInFuture, KeyAlreadyRotated, KeyNotChangeable
from accounts.models import ApiKey, Organization
from accounts.selectors import recent_keys
from accounts.services.lifecycle import KEY_SETTINGS, Actor, lifecycle_record, settings_of


def api_key_expiry_check(expiry_date: datetime | None, *, current: datetime | None = None) -> None:
    """The one rule on an expiry a person sets: in the future (none: never expires), else
    ExpiryNotInFuture. A key issued already expired looks issued and answers
    api_key_expired; ending a key now is what revocation is for. `current` is the key's
    expiry as stored: an expiry left as it is passes (an expired key renamed)."""
    if expiry_date is None or expiry_date == current:
        return
    if expiry_date <= timezone.now():
        raise ExpiryNotInFuture()


@transaction.atomic
def api_key_issue(
    *,
    organization: Organization,
    name: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    expiry_date: datetime | None = None,
    rate_limit_per_minute: int | None = None,
    daily_quota: int | None = None,
    allowed_networks: Sequence[str] = (),
    default_purpose: str | None = None,
    actor: Actor = None,
    replaces: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns it with its plaintext, which is never stored or shown again.

    Limits left None get the defaults (API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE, _DAILY_QUOTA);
    no allowed networks means any address. `replaces` is for api_key_rotate. An expiry
    not in the future raises ExpiryNotInFuture (api_key_expiry_check).
    """
    api_key_expiry_check(expiry_date)
    api_key = ApiKey(
        organization=organization,
        name=name,
        scopes=list(scopes),
        expiry_date=expiry_date,
        allowed_networks=list(allowed_networks),
        created_by=actor if isinstance(actor, User) else None,
        replaces=replaces,
    )
    if rate_limit_per_minute is not None:
        api_key.rate_limit_per_minute = rate_limit_per_minute
    if daily_quota is not None:
        api_key.daily_quota = daily_quota
    if default_purpose is not None:
        api_key.default_purpose = default_purpose
    plaintext = ApiKey.objects.assign_key(api_key)
    api_key.full_clean()
    api_key.save()
    lifecycle_record(
        action=LifecycleAction.KEY_ISSUED,
        organization=organization,
        api_key=api_key,
        actor=actor,
        after={
            **settings_of(api_key, KEY_SETTINGS),
            **({"replaces": replaces.prefix} if replaces else {}),
        },
    )
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
    allowed_networks: Sequence[str] | None = None,
    default_purpose: str | None = None,
    actor: Actor = None,
) -> ApiKey:
    """Change what a key may do; the optional settings left None keep their values.

    A revoked key cannot be changed (KeyNotChangeable), nor its expiry moved into the
    past (ExpiryNotInFuture). Nothing is recorded when nothing changed.
    """
    stored: ApiKey = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if stored.revoked:
        raise KeyNotChangeable()
    api_key_expiry_check(expiry_date, current=stored.expiry_date)
    before = settings_of(stored, KEY_SETTINGS)
    stored.name = name
    stored.scopes = list(scopes)
    stored.expiry_date = expiry_date
    if rate_limit_per_minute is not None:
        stored.rate_limit_per_minute = rate_limit_per_minute
    if daily_quota is not None:
        stored.daily_quota = daily_quota
    if allowed_networks is not None:
        stored.allowed_networks = list(allowed_networks)
    if default_purpose is not None:
        stored.default_purpose = default_purpose
    stored.full_clean()
    after = settings_of(stored, KEY_SETTINGS)
    if after != before:
        stored.version += 1
        stored.save(update_fields=[*KEY_SETTINGS, "version"])
        lifecycle_record(
            action=LifecycleAction.KEY_CHANGED,
            organization=stored.organization,
            api_key=stored,
            actor=actor,
            before=before,
            after=after,
        )
        announce_on_commit({stored.prefix: stored.version})
    return stored


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor = None, reason: str = "") -> ApiKey:
    """Revoke a key for good; every instance refuses it from its next request. `reason`
    (why, as the staff member says it) is kept in the lifecycle record.

    Revoking a revoked key changes nothing (and records nothing).
    """
    locked: ApiKey = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not locked.revoked:
        locked.revoked = True
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor if isinstance(actor, User) else None
        locked.version += 1
        locked.save(update_fields=["revoked", "revoked_at", "revoked_by", "version"])
        lifecycle_record(
            action=LifecycleAction.KEY_REVOKED,
            organization=locked.organization,
            api_key=locked,
            actor=actor,
            before={"revoked": False},
            after={"revoked": True},
            reason=reason.strip(),
        )
        announce_on_commit({locked.prefix: locked.version})
    return locked


@transaction.atomic
def api_key_rotate(
    *, api_key: ApiKey, grace: timedelta = DEFAULT_ROTATION_GRACE, actor: Actor = None
) -> tuple[ApiKey, str]:
    """Issue a key with the same settings to replace `api_key`, which keeps working for
    `grace` and then expires (sooner if it was due to expire sooner). Returns the new key
    with its plaintext, shown once.

    A revoked key is not rotated (KeyNotChangeable), nor one rotated already
    (KeyAlreadyRotated): rotate its replacement; nor an expired one, whose replacement
    would be issued expired (ExpiryNotInFuture). A grace of 0 ends the old key now.
    """
    old: ApiKey = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if old.revoked:
        raise KeyNotChangeable()
    if ApiKey.objects.filter(replaces=old).exists():
        raise KeyAlreadyRotated()
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    new, plaintext = api_key_issue(
        organization=old.organization,
        name=old.name,
        scopes=old.scopes,
        expiry_date=old.expiry_date,
        rate_limit_per_minute=old.rate_limit_per_minute,
        daily_quota=old.daily_quota,
        allowed_networks=old.allowed_networks,
        default_purpose=old.default_purpose,
        actor=actor,
        replaces=old,
    )
    before = settings_of(old, ("expiry_date",))
    ends = timezone.now() + grace
    if old.expiry_date is None or old.expiry_date > ends:
        old.expiry_date = ends
    old.version += 1
    old.save(update_fields=["expiry_date", "version"])
    lifecycle_record(
        action=LifecycleAction.KEY_ROTATED,
        organization=old.organization,
        api_key=old,
        actor=actor,
        before=before,
        after={**settings_of(old, ("expiry_date",)), "replaced_by": new.prefix},
    )
    announce_on_commit({old.prefix: old.version})
    return new, plaintext


def announce_on_commit(versions: dict[str, int]) -> None:
    """After commit: forget the keys here, and stamp their new versions for every instance.

    Not before: until the commit another thread would read (and keep) the old row again,
    and a stamp of a change that rolled back would announce a version no row has.
    """

    def announce() -> None:
        for prefix in versions:
            recent_keys.forget(prefix)
        rate_limits.announce_key_versions(versions)

    transaction.on_commit(announce)
