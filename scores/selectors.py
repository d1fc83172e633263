"""Reads of the scores app: credit profiles and the scorecards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from scores.core.scorecard import (
    Reason,
    Scorecard,
    ScoreResult,
    available_versions,
    load_scorecard,
)
from scores.models import (
    ConsumerRequest,
    ConsumerRequestKind,
    ConsumerRequestState,
    CreditProfile,
)


def active_scorecard() -> Scorecard:
    """The scorecard the API serves: SCORECARD_VERSION, or the newest one shipped."""
    return load_scorecard(settings.SCORECARD_VERSION or available_versions()[-1])


def shipped_scorecards() -> list[Scorecard]:
    """Every scorecard shipped in scores/scorecards/, newest first."""
    return [load_scorecard(version) for version in reversed(available_versions())]


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
