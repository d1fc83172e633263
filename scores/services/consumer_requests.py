"""The consumer's requests: registering them, what each does to the CPF's data and score,
and resolving disputes.

What the score path obeys is the register's state (scores.selectors): a suspension in
force withholds the score, a cancellation in force keeps the CPF out of every import, an
open dispute is said in the answer. Each change that alters what is answered bumps the
profile's version and records it in the invalidation outbox in the same transaction, so
the cached score is replaced by a tombstone after the commit and a score computed before
the change can never be cached after it (docs/consumer-requests.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.services import Actor, actor_fields
from scores.constants import CONSUMER_REQUEST_DEADLINES, PROFILE_CHARACTERISTICS
from scores.core.business_days import add_business_days
from scores.core.cpf import Cpf
from scores.exceptions import ConsumerRequestRefused
from scores.models import (
    ConsumerRequest,
    ConsumerRequestAction,
    ConsumerRequestEvent,
    ConsumerRequestKind,
    ConsumerRequestState,
    CreditProfile,
    CreditProfileCorrection,
    DisputeOutcome,
)
from scores.services.invalidations import invalidations_drain_on_commit, invalidations_record

# Deadlines run on the calendar of the consumers served.
_LOCAL_TIME = ZoneInfo("America/Sao_Paulo")
_PROTOCOL_ATTEMPTS = 5
# A request's time comes from a person or another system: a few minutes ahead is a clock.
_CLOCK_SKEW = timedelta(minutes=5)


def consumer_request_due_on(*, kind: str, received_at: datetime) -> date:
    """The last day to honour a request of `kind` received at `received_at`."""
    days, business = CONSUMER_REQUEST_DEADLINES[kind]
    received_on = timezone.localtime(received_at, _LOCAL_TIME).date()
    if business:
        return add_business_days(received_on, days)
    return received_on + timedelta(days=days)


def _record(request: ConsumerRequest, action: str, actor: Actor, note: str = "") -> None:
    user, name = actor_fields(actor)
    ConsumerRequestEvent.objects.create(
        request=request, action=action, actor=user, actor_name=name, note=note
    )


def _new_protocol(received_at: datetime) -> str:
    """A protocol number to give the consumer: the local date and six random digits."""
    day = timezone.localtime(received_at, _LOCAL_TIME)
    return f"{day:%Y%m%d}{secrets.randbelow(10**6):06d}"


def _in_force(cpf_hash: str, kind: str) -> list[ConsumerRequest]:
    state = (
        ConsumerRequestState.OPEN
        if kind == ConsumerRequestKind.DISPUTE
        else (ConsumerRequestState.IN_FORCE)
    )
    return list(
        ConsumerRequest.objects.select_for_update().filter(
            cpf_hash=cpf_hash, kind=kind, state=state
        )
    )


def _answer_changed(profile: CreditProfile | None) -> None:
    """What is answered for this profile's CPF changed: a new version, and its cached score
    replaced after the commit."""
    if profile is None:
        return
    profile.version += 1
    profile.save(update_fields=["version", "updated_at"])
    invalidations_record(profile_versions={profile.cpf_hash: profile.version})
    invalidations_drain_on_commit(profile.cpf_hash)


@transaction.atomic
def consumer_request_register(
    *,
    cpf: Cpf,
    kind: str,
    channel: str,
    actor: Actor,
    protocol: str = "",
    received_at: datetime | None = None,
    disputed_fields: Sequence[str] = (),
    reason: str = "",
) -> ConsumerRequest:
    """Register a consumer's request and apply it at once.

    A suspension withholds the score from this moment; a cancellation removes the CPF's
    credit profile and keeps it out of imports; a reopening lifts every suspension and
    cancellation in force for the CPF; a dispute names the characteristics disputed and is
    said in every answer until it is resolved. Raises ConsumerRequestRefused for a request
    that would change nothing (a second suspension, nothing to reopen) or is incomplete.
    """
    received = received_at or timezone.now()
    fields = list(dict.fromkeys(disputed_fields))
    cpf_hash = cpf.lookup_hash(settings.CPF_HASH_KEY)
    profile = CreditProfile.objects.select_for_update().filter(pk=cpf_hash).first()
    _check(cpf_hash, kind, fields, received, has_profile=profile is not None, lock=True)
    lifted: list[ConsumerRequest] = []
    if kind == ConsumerRequestKind.REOPEN:
        lifted = _in_force(cpf_hash, ConsumerRequestKind.SUSPEND) + _in_force(
            cpf_hash, ConsumerRequestKind.CANCEL
        )
    user, name = actor_fields(actor)
    state = {
        ConsumerRequestKind.SUSPEND: ConsumerRequestState.IN_FORCE,
        ConsumerRequestKind.CANCEL: ConsumerRequestState.IN_FORCE,
        ConsumerRequestKind.REOPEN: ConsumerRequestState.DONE,
        ConsumerRequestKind.DISPUTE: ConsumerRequestState.OPEN,
    }[ConsumerRequestKind(kind)]
    request = ConsumerRequest(
        cpf_hash=cpf_hash,
        cpf_masked=cpf.masked,
        kind=kind,
        channel=channel,
        received_at=received,
        due_on=consumer_request_due_on(kind=kind, received_at=received),
        state=state,
        disputed_fields=fields,
        reason=reason.strip(),
        registered_by=user,
        registered_by_name=name,
    )
    if kind == ConsumerRequestKind.REOPEN:
        request.resolved_by, request.resolved_by_name, request.resolved_at = user, name, received
    _save_with_protocol(request, protocol.strip())
    _record(request, ConsumerRequestAction.REGISTERED, actor, request.reason)
    for earlier in lifted:
        earlier.state = ConsumerRequestState.LIFTED
        earlier.resolved_by, earlier.resolved_by_name = user, name
        earlier.resolved_at = timezone.now()
        earlier.save(update_fields=["state", "resolved_by", "resolved_by_name", "resolved_at"])
        _record(earlier, ConsumerRequestAction.LIFTED, actor, request.protocol)
    if kind == ConsumerRequestKind.CANCEL and profile is not None:
        _remove_profile(profile, request, actor)
    else:
        _answer_changed(profile)
    return request


def consumer_request_check(
    *, cpf: Cpf, kind: str, disputed_fields: Sequence[str], received_at: datetime
) -> None:
    """Raise ConsumerRequestRefused, saying why, if registering this request would be
    refused now (a form's validation; registering checks again, with the rows locked)."""
    cpf_hash = cpf.lookup_hash(settings.CPF_HASH_KEY)
    has_profile = CreditProfile.objects.filter(pk=cpf_hash).exists()
    _check(cpf_hash, kind, list(disputed_fields), received_at, has_profile=has_profile)


def _check(
    cpf_hash: str,
    kind: str,
    fields: list[str],
    received_at: datetime,
    *,
    has_profile: bool,
    lock: bool = False,
) -> None:
    if received_at > timezone.now() + _CLOCK_SKEW:
        raise ConsumerRequestRefused(gettext("A request cannot be received in the future."))
    if kind == ConsumerRequestKind.DISPUTE:
        if not fields or any(name not in PROFILE_CHARACTERISTICS for name in fields):
            raise ConsumerRequestRefused(
                gettext("A dispute names at least one of the profile's characteristics.")
            )
        if not has_profile:
            raise ConsumerRequestRefused(
                gettext("There is no credit data for this CPF: there is nothing to dispute.")
            )
    elif fields:
        raise ConsumerRequestRefused(gettext("Only a dispute names characteristics."))
    requests = ConsumerRequest.objects.select_for_update() if lock else ConsumerRequest.objects
    in_force = set(
        requests.filter(cpf_hash=cpf_hash, state=ConsumerRequestState.IN_FORCE).values_list(
            "kind", flat=True
        )
    )
    if kind in in_force:
        raise ConsumerRequestRefused(
            gettext("A request of this kind is already in force for this CPF.")
        )
    if kind == ConsumerRequestKind.REOPEN and not in_force:
        raise ConsumerRequestRefused(
            gettext("Nothing is suspended or cancelled for this CPF: there is nothing to reopen.")
        )


def _save_with_protocol(request: ConsumerRequest, protocol: str) -> None:
    """Save with the protocol given, or a new one (drawn again on the rare collision)."""
    for attempt in range(1, _PROTOCOL_ATTEMPTS + 1):
        request.protocol = protocol or _new_protocol(request.received_at)
        try:
            with transaction.atomic():
                request.save()
            return
        except IntegrityError:
            if protocol:
                raise ConsumerRequestRefused(
                    gettext("Another request already has this protocol number.")
                ) from None
            if attempt == _PROTOCOL_ATTEMPTS:
                raise


def _remove_profile(profile: CreditProfile, request: ConsumerRequest, actor: Actor) -> None:
    """The cancelled CPF's credit data goes; its audit rows stay (they are the trail)."""
    cpf_hash, removed_version = profile.cpf_hash, profile.version
    profile.delete()  # which also forgets its primary key
    # A tombstone newer than anything cached, so no earlier score is ever served again.
    invalidations_record(profile_versions={cpf_hash: removed_version + 1})
    invalidations_drain_on_commit(cpf_hash)
    _record(request, ConsumerRequestAction.PROFILE_REMOVED, actor)


@transaction.atomic
def consumer_request_resolve(
    *, request: ConsumerRequest, outcome: str, resolution: str, actor: Actor
) -> ConsumerRequest:
    """Close an open dispute as corrected or confirmed as recorded, with the reason; the
    answers stop saying it is under dispute (the cached score is replaced)."""
    locked = ConsumerRequest.objects.select_for_update().get(pk=request.pk)
    if locked.kind != ConsumerRequestKind.DISPUTE or locked.state != ConsumerRequestState.OPEN:
        raise ConsumerRequestRefused(gettext("Only an open dispute can be resolved."))
    if outcome not in DisputeOutcome.values:
        raise ConsumerRequestRefused(gettext("Say whether the data was corrected or confirmed."))
    if not resolution.strip():
        raise ConsumerRequestRefused(gettext("Say why: the reason is given to the consumer."))
    user, name = actor_fields(actor)
    locked.state = ConsumerRequestState.RESOLVED
    locked.outcome = outcome
    locked.resolution = resolution.strip()
    locked.resolved_by, locked.resolved_by_name = user, name
    locked.resolved_at = timezone.now()
    locked.save(
        update_fields=[
            "state",
            "outcome",
            "resolution",
            "resolved_by",
            "resolved_by_name",
            "resolved_at",
        ]
    )
    _record(locked, ConsumerRequestAction.RESOLVED, actor, locked.resolution)
    profile = CreditProfile.objects.select_for_update().filter(pk=locked.cpf_hash).first()
    _answer_changed(profile)
    return locked


def consumer_requests_record_correction(
    *, correction: CreditProfileCorrection, actor: Actor
) -> None:
    """Note a profile's correction on the CPF's open disputes (called inside the edit's
    transaction): the operator's correction is part of the dispute's history. The note is
    written for people, in the operator's language, as the staff's own notes are."""
    note = gettext("%(characteristics)s (protocol %(protocol)s)") % {
        "characteristics": correction.changed_labels(),
        "protocol": correction.protocol,
    }
    for dispute in _in_force(correction.cpf_hash, ConsumerRequestKind.DISPUTE):
        _record(dispute, ConsumerRequestAction.PROFILE_CORRECTED, actor, note)
