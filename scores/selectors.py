"""Reads of the scores app: credit profiles and the scorecards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.scorecard import (
    InvalidScorecard,
    Reason,
    Scorecard,
    ScoreResult,
    available_versions,
    decode_scorecard,
    load_scorecard,
    parse_scorecard,
)
from scores.models import (
    ConsumerRequest,
    ConsumerRequestKind,
    ConsumerRequestState,
    CreditProfile,
    ScorecardEvent,
    ScorecardProposal,
    ShadowScore,
    StoredScorecard,
)

# Uploaded versions parsed by this process, by version: a stored version never changes.
_stored_scorecards: dict[str, Scorecard] = {}
ACTIVATIONS = (ScorecardEvent.Action.ACTIVATED, ScorecardEvent.Action.ROLLED_BACK)


def default_scorecard_version() -> str:
    """The version served before any activation in the portal: SCORECARD_VERSION, or the
    oldest one shipped (the first boot's default)."""
    return str(settings.SCORECARD_VERSION) or available_versions()[0]


def scorecard_active_version() -> str:
    """The version the portal's record says is active (the last activation or rollback),
    else the first boot's default. One query: for staff pages and operators' tasks; the
    score path reads it from the cache's generation item (scores.cache.score_cache)."""
    latest = (
        ScorecardEvent.objects.filter(action__in=ACTIVATIONS)
        .order_by("-occurred_at", "-id")
        .values_list("version", flat=True)
        .first()
    )
    return latest or default_scorecard_version()


def scorecard_activations() -> list[ScorecardEvent]:
    """Every activation and rollback, newest first."""
    return list(
        ScorecardEvent.objects.filter(action__in=ACTIVATIONS).order_by("-occurred_at", "-id")
    )


def scorecard_get(version: str) -> Scorecard:
    """A shipped or uploaded version, parsed; raises InvalidScorecard for an unknown one.
    An uploaded version is read from the database once per process (it never changes)."""
    if version in available_versions():
        return load_scorecard(version)
    scorecard = _stored_scorecards.get(version)
    if scorecard is None:
        stored = StoredScorecard.objects.filter(version=version).first()
        if stored is None:
            raise InvalidScorecard(f"no scorecard {version!r}")
        scorecard = parse_scorecard(
            decode_scorecard(stored.document), characteristics=PROFILE_CHARACTERISTICS
        )
        _stored_scorecards[version] = scorecard
    return scorecard


def scorecard_exists(version: str) -> bool:
    return (
        version in available_versions() or StoredScorecard.objects.filter(version=version).exists()
    )


def active_scorecard() -> Scorecard:
    """The scorecard the portal's record says is active (see scorecard_active_version)."""
    return scorecard_get(scorecard_active_version())


def shipped_scorecards() -> list[Scorecard]:
    """Every scorecard shipped in scores/scorecards/, newest first."""
    return [load_scorecard(version) for version in reversed(available_versions())]


def all_scorecards() -> list[tuple[Scorecard, StoredScorecard | None]]:
    """Every version, shipped (None) and uploaded (its record), newest first."""
    uploaded = [
        (scorecard_get(stored.version), stored)
        for stored in StoredScorecard.objects.select_related("uploaded_by").order_by("-uploaded_at")
    ]
    shipped: list[tuple[Scorecard, StoredScorecard | None]] = [
        (scorecard, None) for scorecard in shipped_scorecards()
    ]
    return uploaded + shipped


def scorecard_proposals() -> list[ScorecardProposal]:
    return list(ScorecardProposal.objects.select_related("proposed_by", "decided_by")[:50])


def scorecard_proposal_get(proposal_id: int) -> ScorecardProposal | None:
    return (
        ScorecardProposal.objects.select_related("proposed_by", "decided_by")
        .filter(pk=proposal_id)
        .first()
    )


@dataclass(frozen=True, slots=True)
class ProfileScore:
    """What the active scorecard gives a profile now, with its reasons in one language."""

    result: ScoreResult
    reasons: tuple[Reason, ...]
    scorecard_version: str


def credit_profile_score(*, profile: CreditProfile, language: str) -> ProfileScore:
    """Score a profile with the active scorecard, for staff to read: computed, not read
    from or written to the score cache, and not a consultation (no audit row: no one
    outside receives it). `language` is "pt-BR" or "en", the reason texts' languages."""
    scorecard = active_scorecard()
    result = scorecard.score(profile.characteristics())
    return ProfileScore(
        result=result,
        reasons=tuple(scorecard.reason(code, language) for code in result.reason_codes),
        scorecard_version=scorecard.version,
    )


def credit_profile_get(*, cpf_hash: str) -> CreditProfile | None:
    try:
        return CreditProfile.objects.get(cpf_hash=cpf_hash)
    except CreditProfile.DoesNotExist:
        return None


def _standing(kind: str, state: str) -> Exists:
    return Exists(ConsumerRequest.objects.filter(cpf_hash=OuterRef("pk"), kind=kind, state=state))


@dataclass(frozen=True, slots=True)
class ProfileToScore:
    """A credit profile, and what its consumer asked that changes the answer."""

    profile: CreditProfile
    suspended: bool
    under_dispute: bool


def credit_profiles_get(*, cpf_hashes: Sequence[str]) -> dict[str, ProfileToScore]:
    """The profiles of these CPF hashes that exist, by hash, each with its consumer's
    suspension and open dispute, in one query."""
    profiles = CreditProfile.objects.annotate(
        suspended=_standing(ConsumerRequestKind.SUSPEND, ConsumerRequestState.IN_FORCE),
        under_dispute=_standing(ConsumerRequestKind.DISPUTE, ConsumerRequestState.OPEN),
    ).in_bulk(list(cpf_hashes))
    return {
        cpf_hash: ProfileToScore(
            profile=profile,
            suspended=profile.suspended,
            under_dispute=profile.under_dispute,
        )
        for cpf_hash, profile in profiles.items()
    }


def cpfs_cancelled(*, cpf_hashes: Sequence[str]) -> set[str]:
    """Which of these CPF hashes have a cancellation in force: no data may come back for
    them until a reopening (one query)."""
    if not cpf_hashes:
        return set()
    return set(
        ConsumerRequest.objects.filter(
            cpf_hash__in=list(cpf_hashes),
            kind=ConsumerRequestKind.CANCEL,
            state=ConsumerRequestState.IN_FORCE,
        ).values_list("cpf_hash", flat=True)
    )


def consumer_requests_of(*, cpf_hash: str) -> QuerySet[ConsumerRequest]:
    """A CPF's requests, newest first."""
    return ConsumerRequest.objects.filter(cpf_hash=cpf_hash).order_by("-received_at", "-id")


def consumer_disputes_due(*, on: date) -> QuerySet[ConsumerRequest]:
    """Open disputes whose deadline is `on` or past, the most overdue first. (The other
    kinds take effect when they are registered: nothing is left to do for them.)"""
    return ConsumerRequest.objects.filter(
        state=ConsumerRequestState.OPEN,
        kind=ConsumerRequestKind.DISPUTE,
        due_on__lte=on,
    ).order_by("due_on", "received_at")


def credit_profile_versions(*, cpf_hashes: Sequence[str]) -> dict[str, int]:
    """The current version of each of these profiles that exists, by hash (one query)."""
    return dict(
        CreditProfile.objects.filter(cpf_hash__in=list(cpf_hashes)).values_list(
            "cpf_hash", "version"
        )
    )


def scorecard_challenger() -> ScorecardEvent | None:
    """The last challenger set (None: none, or removed since)."""
    latest = (
        ScorecardEvent.objects.filter(
            action__in=[
                ScorecardEvent.Action.CHALLENGER_SET,
                ScorecardEvent.Action.CHALLENGER_REMOVED,
            ]
        )
        .order_by("-occurred_at", "-id")
        .first()
    )
    if latest is None or latest.action == ScorecardEvent.Action.CHALLENGER_REMOVED:
        return None
    return latest


@dataclass(frozen=True, slots=True)
class ChallengerComparison:
    """The challenger against the active scorecard on the same requests."""

    champion_version: str
    challenger_version: str
    requests: int
    same_band: int
    mean_difference: float | None  # challenger's score less the active one's
    matrix: list[list[int]]  # active band (rows) -> challenger band (columns)
    organizations: list[tuple[str, int, int, float | None]]  # name, requests, same band, mean


def challenger_comparison(
    *, champion_version: str, challenger_version: str
) -> ChallengerComparison:
    """Band agreement, mean score difference, migration matrix, per organization: the shadow
    scores of this pair of versions, summed in Postgres (a few grouped queries)."""
    from django.db.models import Avg, Count, F, Q

    from scores.core.scorecard import Band

    rows = ShadowScore.objects.filter(
        champion_version=champion_version, challenger_version=challenger_version
    )
    totals = rows.aggregate(
        requests=Count("id"),
        same=Count("id", filter=Q(champion_band=F("challenger_band"))),
        difference=Avg(F("challenger_score") - F("champion_score")),
    )
    bands = [band.value for band in Band]
    matrix = [[0] * len(bands) for _ in bands]
    for champion, challenger, count in (
        rows.values_list("champion_band", "challenger_band").annotate(count=Count("id")).order_by()
    ):
        matrix[bands.index(champion)][bands.index(challenger)] = count
    organizations = [
        (
            name or "-",
            count,
            same,
            None if difference is None else float(difference),
        )
        for name, count, same, difference in rows.values_list("organization__name")
        .annotate(
            count=Count("id"),
            same=Count("id", filter=Q(champion_band=F("challenger_band"))),
            difference=Avg(F("challenger_score") - F("champion_score")),
        )
        .order_by("-count")
        .values_list("organization__name", "count", "same", "difference")[:100]
    ]
    difference = totals["difference"]
    return ChallengerComparison(
        champion_version=champion_version,
        challenger_version=challenger_version,
        requests=totals["requests"],
        same_band=totals["same"],
        mean_difference=None if difference is None else float(difference),
        matrix=matrix,
        organizations=organizations,
    )
