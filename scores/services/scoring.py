"""Serving a score: from the cache when it is fresh, else computed from the profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from scores import score_cache
from scores.constants import ScoreSource
from scores.cpf import Cpf
from scores.exceptions import NoCreditData
from scores.scorecard import Reason
from scores.selectors import active_scorecard, credit_profile_get


@dataclass(frozen=True, slots=True)
class ServedScore:
    """A score as the API answers it."""

    cpf: Cpf
    score: int
    band: str
    probability_of_default: Decimal
    reasons: tuple[Reason, ...]
    model_version: str
    computed_at: datetime
    source: ScoreSource


def score_get(*, cpf: Cpf) -> ServedScore:
    """The score of `cpf`: from the cache when it is fresh, else computed and cached.

    Raises NoCreditData when there is no profile: never a made-up score.
    """
    cpf_hash = cpf.lookup_hash(settings.CPF_HASH_KEY)
    scorecard = active_scorecard()
    cached = score_cache.get(cpf_hash, model_version=scorecard.version)
    source = ScoreSource.CACHE
    if cached is None:
        profile = credit_profile_get(cpf_hash=cpf_hash)
        if profile is None:
            raise NoCreditData()
        result = scorecard.score(profile.characteristics())
        cached = score_cache.CachedScore(
            score=result.score,
            band=result.band.value,
            probability_of_default=result.probability_of_default,
            reason_codes=result.reason_codes,
            model_version=scorecard.version,
            profile_version=profile.version,
            computed_at=timezone.now(),
        )
        score_cache.put(cpf_hash, cached)
        source = ScoreSource.COMPUTED
    return ServedScore(
        cpf=cpf,
        score=cached.score,
        band=cached.band,
        probability_of_default=cached.probability_of_default,
        reasons=tuple(scorecard.reason(code) for code in cached.reason_codes),
        model_version=cached.model_version,
        computed_at=cached.computed_at,
        source=source,
    )
