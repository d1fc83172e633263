"""Reads of the scores app: credit profiles and the scorecards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from scores.core.scorecard import (
    Reason,
    Scorecard,
    ScoreResult,
    available_versions,
    load_scorecard,
)
from scores.models import CreditProfile


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


def credit_profiles_get(*, cpf_hashes: Sequence[str]) -> dict[str, CreditProfile]:
    """The profiles of these CPF hashes that exist, by hash (one query)."""
    return CreditProfile.objects.in_bulk(list(cpf_hashes))


def credit_profile_versions(*, cpf_hashes: Sequence[str]) -> dict[str, int]:
    """The current version of each of these profiles that exists, by hash (one query)."""
    return dict(
        CreditProfile.objects.filter(cpf_hash__in=list(cpf_hashes)).values_list(
            "cpf_hash", "version"
        )
    )
