"""Scorecard versions governed with four eyes: upload, propose (the impact computed as a
task in steps), approve or refuse by a second person, activation for every instance from
its next request, rollback. Every step is recorded (ScorecardEvent, append-only).

The admin and the commands (scorecard_propose, scorecard_approve, scorecard_rollback) call
these same functions, so the rules hold on both: only a holder of the approver permission
who is not the proposer decides; a decision needs the impact; a rollback needs a reason.
How it fits together: docs/credit-data.md, "Scorecard versions".
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from scoreportal.aws_clients import DynamoDBCallFailed
from scoreportal.steps import step_task_resume
from scores.cache import score_cache
from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.scorecard import Violation, decode_scorecard, scorecard_violations
from scores.exceptions import (
    ImpactNotResumable,
    ScoreCacheUnavailable,
    ScorecardDecisionRefused,
    ScorecardNotProposable,
    ScorecardRefused,
    ScorecardRollbackRefused,
)
from scores.impact import RECENT_DAYS, empty_tallies, tallies_add, tally_range
from scores.models import ScorecardEvent, ScorecardProposal, StoredScorecard
from scores.selectors import (
    scorecard_activations,
    scorecard_active_version,
    scorecard_exists,
    scorecard_get,
)

logger = logging.getLogger(__name__)

PROPOSE_PERMISSION = "scores.propose_scorecardproposal"
APPROVE_PERMISSION = "scores.approve_scorecardproposal"
# Serializes activations and rollbacks (any role may take an advisory lock; the serving
# role may not LOCK a table).
_ACTIVATION_LOCK = 2_021_0001

Action = ScorecardEvent.Action


def _record(
    action: str,
    *,
    version: str,
    actor: User | None,
    reason: str = "",
    proposal: ScorecardProposal | None = None,
    previous_version: str = "",
    challenger_share: int | None = None,
) -> ScorecardEvent:
    return ScorecardEvent.objects.create(
        challenger_share=challenger_share,
        action=action,
        version=version,
        previous_version=previous_version,
        proposal=proposal,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "task",
        reason=reason,
    )


@transaction.atomic
def scorecard_upload(*, actor: User, file_name: str, content: bytes) -> StoredScorecard:
    """Store an uploaded scorecard version after the engine's rules (and the profile's
    characteristics) accept it; ScorecardRefused with every violation otherwise."""
    if not actor.has_perm(PROPOSE_PERMISSION):
        raise ScorecardRefused(message="Only a credit data operator may upload a scorecard.")
    try:
        data = decode_scorecard(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScorecardRefused([Violation("", "not_utf8")]) from None
    except (ValueError, RecursionError) as exc:
        raise ScorecardRefused([Violation("", "not_json", str(exc)[:200])]) from None
    violations = scorecard_violations(data, characteristics=PROFILE_CHARACTERISTICS)
    version = data.get("version") if isinstance(data, Mapping) else None
    if isinstance(version, str) and scorecard_exists(version):
        violations.insert(0, Violation("version", "version_exists", version))
    if violations:
        raise ScorecardRefused(violations)
    assert isinstance(version, str)  # checked by the rules
    try:
        with transaction.atomic():
            stored = StoredScorecard.objects.create(
                version=version,
                document=content.decode("utf-8"),
                file_name=file_name[:255],
                file_sha256=hashlib.sha256(content).hexdigest(),
                uploaded_by=actor,
            )
    except IntegrityError:  # uploaded at the same time by someone else
        raise ScorecardRefused([Violation("version", "version_exists", version)]) from None
    _record(Action.UPLOADED, version=version, actor=actor)
    return stored


@transaction.atomic
def scorecard_propose(*, version: str, actor: User, reason: str = "") -> ScorecardProposal:
    """Propose `version` for activation; its impact against the active version is then
    computed as a task in steps (a plain call off Lambda, after the commit)."""
    if not actor.has_perm(PROPOSE_PERMISSION):
        raise ScorecardNotProposable("Only a credit data operator may propose a scorecard.")
    if not scorecard_exists(version):
        raise ScorecardNotProposable(f"There is no scorecard version {version}.")
    active = scorecard_active_version()
    if version == active:
        raise ScorecardNotProposable(f"Scorecard {version} is already active.")
    if ScorecardProposal.objects.filter(
        version=version, status=ScorecardProposal.Status.PENDING
    ).exists():
        raise ScorecardNotProposable(f"Scorecard {version} already waits for approval.")
    proposal = ScorecardProposal.objects.create(
        version=version,
        baseline_version=active,
        reason=reason,
        proposed_by=actor,
        impact=empty_tallies(),
    )
    _record(Action.PROPOSED, version=version, actor=actor, reason=reason, proposal=proposal)
    transaction.on_commit(lambda: scorecard_impact_step(proposal.pk))
    return proposal


def scorecard_impact_step(proposal_id: int) -> None:
    """Run the impact's steps as a Zappa task: one step, then the next (a new invocation on
    Lambda, a plain call elsewhere) until it is computed. zappa.asynchronous is imported
    here, not with the module: the API's cold start would pay for its clients."""
    from zappa.asynchronous import task

    task(_scorecard_impact_steps)(proposal_id)


def _scorecard_impact_steps(proposal_id: int) -> None:
    # A task is not a request: nothing else recycles an old connection (never inside a
    # transaction: an in-process call may run in one).
    if not transaction.get_connection().in_atomic_block:
        close_old_connections()
    if scorecard_impact_advance(proposal_id=proposal_id):
        scorecard_impact_step(proposal_id)


def scorecard_impact_advance(*, proposal_id: int) -> bool:
    """One step of a proposal's impact: ranges of profiles scored with both versions for
    about SCORECARD_IMPACT_STEP_SECONDS, their tallies added to the proposal's; True if
    another step is needed."""
    proposal = ScorecardProposal.objects.get(pk=proposal_id)
    if proposal.impact_status != ScorecardProposal.ImpactStatus.COMPUTING:
        return False
    current = scorecard_get(proposal.baseline_version)
    proposed = scorecard_get(proposal.version)
    tallies = proposal.impact or empty_tallies()
    cursor = proposal.impact_cursor
    limit = int(settings.SCORECARD_IMPACT_RANGE_PROFILES)
    deadline = time.monotonic() + float(settings.SCORECARD_IMPACT_STEP_SECONDS)
    done = False
    # At least one range a step, however short the step: every step makes progress.
    while not done:
        part, last, read = tally_range(
            current=current,
            proposed=proposed,
            after=cursor,
            limit=limit,
            recent_since=proposal.proposed_at - timedelta(days=RECENT_DAYS),
        )
        tallies = tallies_add(tallies, part)
        cursor = last or cursor
        done = read < limit
        if time.monotonic() >= deadline:
            break
    with transaction.atomic():
        locked = ScorecardProposal.objects.select_for_update().get(pk=proposal_id)
        if locked.impact_cursor != proposal.impact_cursor:  # another step got there first
            return False
        locked.impact = tallies
        locked.impact_cursor = cursor
        locked.impact_progressed_at = timezone.now()
        if done:
            locked.impact_status = ScorecardProposal.ImpactStatus.COMPUTED
            _record(Action.IMPACT_COMPUTED, version=locked.version, actor=None, proposal=locked)
        locked.save()
    return not done


def scorecard_impact_resume(*, proposal_id: int) -> ScorecardProposal:
    """Start a stalled impact's task again, from the tallies and the cursor its last
    finished step saved (a step that died saved nothing: its ranges are scored again)."""
    return step_task_resume(
        ScorecardProposal,
        proposal_id,
        stalled=lambda proposal: proposal.impact_stalled,
        progressed_field="impact_progressed_at",
        step=scorecard_impact_step,
        refused=ImpactNotResumable,
        what="scorecard impact",
    )


def _decidable(proposal_id: int, actor: User) -> ScorecardProposal:
    try:
        proposal = ScorecardProposal.objects.select_for_update().get(pk=proposal_id)
    except ScorecardProposal.DoesNotExist:
        raise ScorecardDecisionRefused(f"There is no proposal {proposal_id}.") from None
    if not actor.has_perm(APPROVE_PERMISSION):
        raise ScorecardDecisionRefused("Only a model approver may decide on a proposal.")
    if proposal.proposed_by_id == actor.pk:
        raise ScorecardDecisionRefused("The proposer cannot decide on their own proposal.")
    if proposal.status != ScorecardProposal.Status.PENDING:
        raise ScorecardDecisionRefused("This proposal was already decided.")
    return proposal


def _serialized() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ACTIVATION_LOCK])


@transaction.atomic
def scorecard_approve(
    *, proposal_id: int, actor: User, reason: str = "", patient: bool = True
) -> ScorecardProposal:
    """Approve a proposal and activate its version: recorded, then named in the cache's
    generation item (every instance serves it from its next request; every cached score
    of the old version a miss). `patient`: the command's DynamoDB client; the admin passes
    False (the request path's timeouts)."""
    _serialized()
    proposal = _decidable(proposal_id, actor)
    if proposal.impact_status != ScorecardProposal.ImpactStatus.COMPUTED:
        raise ScorecardDecisionRefused("The impact of this proposal is not computed yet.")
    active = scorecard_active_version()
    if active != proposal.baseline_version:
        raise ScorecardDecisionRefused(
            "The active version changed since this proposal: its impact is out of date."
        )
    proposal.status = ScorecardProposal.Status.APPROVED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_reason = reason
    proposal.save()
    _record(
        Action.APPROVED, version=proposal.version, actor=actor, reason=reason, proposal=proposal
    )
    _activate(
        Action.ACTIVATED,
        version=proposal.version,
        previous=active,
        actor=actor,
        reason=reason,
        proposal=proposal,
        patient=patient,
    )
    return proposal


@transaction.atomic
def scorecard_refuse(*, proposal_id: int, actor: User, reason: str) -> ScorecardProposal:
    """Refuse a proposal, with a reason."""
    if not reason.strip():
        raise ScorecardDecisionRefused("A refusal needs a reason.")
    proposal = _decidable(proposal_id, actor)
    proposal.status = ScorecardProposal.Status.REFUSED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_reason = reason
    proposal.save()
    _record(Action.REFUSED, version=proposal.version, actor=actor, reason=reason, proposal=proposal)
    return proposal


@transaction.atomic
def scorecard_rollback(*, actor: User, reason: str, patient: bool = True) -> str:
    """Go back to the version active before the current one (recorded, with a reason);
    returns it. Only a model approver may."""
    if not actor.has_perm(APPROVE_PERMISSION):
        raise ScorecardRollbackRefused("Only a model approver may roll back.")
    if not reason.strip():
        raise ScorecardRollbackRefused("A rollback needs a reason.")
    _serialized()
    activations = scorecard_activations()
    if not activations or not activations[0].previous_version:
        raise ScorecardRollbackRefused()
    current = activations[0].version
    previous = activations[0].previous_version
    _activate(
        Action.ROLLED_BACK,
        version=previous,
        previous=current,
        actor=actor,
        reason=reason,
        proposal=None,
        patient=patient,
    )
    return previous


def _activate(
    action: str,
    *,
    version: str,
    previous: str,
    actor: User,
    reason: str,
    proposal: ScorecardProposal | None,
    patient: bool,
) -> None:
    """Record the activation, supersede the other pending proposals (their impact was
    measured against the old version), and name the version in the cache's generation
    item; a cache that cannot be written undoes it all (the caller's transaction)."""
    scorecard_get(version)  # refuses a version this database cannot serve
    _record(
        action,
        version=version,
        previous_version=previous,
        actor=actor,
        reason=reason,
        proposal=proposal,
    )
    ScorecardProposal.objects.filter(status=ScorecardProposal.Status.PENDING).update(
        status=ScorecardProposal.Status.SUPERSEDED
    )
    try:
        score_cache.scorecard_activate(version, patient=patient)
    except DynamoDBCallFailed as exc:
        logger.warning("scorecard activation failed: the score cache could not be written")
        raise ScoreCacheUnavailable(
            "The score cache could not be reached; nothing was activated. Retry."
        ) from exc


@transaction.atomic
def scorecard_challenger_set(
    *, actor: User, version: str | None, share: int, reason: str = "", patient: bool = True
) -> None:
    """Score `version` in shadow beside the active one on `share` percent (0-100) of the
    computed scores, or stop (None); recorded. Only a model approver may."""
    if not actor.has_perm(APPROVE_PERMISSION):
        raise ScorecardDecisionRefused("Only a model approver may set a challenger.")
    if version is not None:
        if not 0 <= share <= 100:
            raise ScorecardDecisionRefused("The share is a percentage, 0 to 100.")
        scorecard_get(version)  # refuses an unknown version
        if version == scorecard_active_version():
            raise ScorecardDecisionRefused(f"Scorecard {version} is already active.")
    _record(
        Action.CHALLENGER_REMOVED if version is None else Action.CHALLENGER_SET,
        version=version or "",
        actor=actor,
        reason=reason,
        challenger_share=None if version is None else share,
    )
    try:
        score_cache.scorecard_challenger_set(version, share, patient=patient)
    except DynamoDBCallFailed as exc:
        raise ScoreCacheUnavailable(
            "The score cache could not be reached; nothing was changed. Retry."
        ) from exc


def scorecard_serving_restore(*, patient: bool = True) -> str:
    """Name the recorded active version in the cache's generation item again (a table
    created anew has none: instances would serve the first boot's default); returns it.
    Starts a new generation too (what activation does)."""
    version = scorecard_active_version()
    if scorecard_activations():
        score_cache.scorecard_activate(version, patient=patient)
    return version


def impact_progress(proposal: ScorecardProposal) -> dict[str, Any]:
    """How far a proposal's impact has got: profiles scored so far."""
    tallies = proposal.impact or empty_tallies()
    return {"profiles": sum(tallies["all"]["current"]), "status": proposal.impact_status}
