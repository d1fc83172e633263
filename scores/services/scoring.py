"""Serving scores: from the cache when fresh, else computed from the profiles.

One path for one CPF and for a batch. The cache is read on a worker thread while the
caller's `admit` runs on this one (the API counts the request against its key's limits
there, one DynamoDB call each, so they do not add up in latency), and nothing is scored
before `admit` has returned: a refused request costs no profile read and no scorecard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from scoreportal.error_codes import ErrorCode
from scores.cache import score_cache
from scores.constants import ScoreSource
from scores.core.cpf import Cpf
from scores.core.scorecard import Reason, Scorecard
from scores.exceptions import NoCreditData, ScoreSuspended
from scores.selectors import (
    active_scorecard,
    credit_profile_versions,
    credit_profiles_get,
)

# Reads the score cache while the request thread does its own DynamoDB call; boto3 clients
# are thread-safe, and the workers never touch the database (Django's connections are per
# thread). A thread is started only when none is idle: one in all on Lambda or a sync
# worker (a request at a time), one per concurrent request on a threaded server.
_cache_reader = ThreadPoolExecutor(max_workers=8, thread_name_prefix="score-cache-read")


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
    under_dispute: bool


def _admit_everything() -> None:
    return None


def scores_get(
    *, cpfs: Iterable[Cpf], admit: Callable[[], None] = _admit_everything
) -> dict[Cpf, ServedScore | ErrorCode]:
    """The score of each CPF (each looked up once), or why there is none: NO_CREDIT_DATA,
    or SCORE_SUSPENDED when the consumer asked for access to their score to be suspended
    (never cached: the suspension replaced the cached score, so it is met computing).

    `admit` runs on this thread while the cache is read (one BatchGetItem per 99 CPFs, the
    cache's generation asked in the same call); whatever it raises propagates (once the read
    has ended) and nothing is scored. Cache misses are scored from profiles read in one
    query, and cached under the generation the read saw: one conditional PutItem for one
    score, BatchWriteItem for more (then the profile versions are read again, and a profile
    that changed meanwhile has its new score's item invalidated).
    """
    hashes = {cpf: cpf.lookup_hash(settings.CPF_HASH_KEY) for cpf in cpfs}
    scorecard = active_scorecard()
    distinct = list(dict.fromkeys(hashes.values()))
    # Decided once: if the cache is cooling down now, this call does not write to it either.
    # A cool-down that ends while `admit` waits on DynamoDB (and times out) must not add the
    # write's own timeout to the same request.
    cache_in_use = score_cache.available()
    reading = _cache_reader.submit(score_cache.read, distinct, model_version=scorecard.version)
    try:
        admit()
    finally:
        cache_read = reading.result()
    cached = cache_read.scores
    misses = [cpf_hash for cpf_hash in distinct if cached[cpf_hash] is None]
    # Computed scores are written under the generation this read saw; none if it failed.
    generation = cache_read.generation if cache_in_use else None
    computed, suspended = (
        _computed(misses, scorecard, generation=generation) if misses else ({}, set())
    )
    served: dict[Cpf, ServedScore | ErrorCode] = {}
    for cpf, cpf_hash in hashes.items():
        hit = cached[cpf_hash]
        if hit is not None:
            served[cpf] = _served(cpf, hit, ScoreSource.CACHE, scorecard)
        elif cpf_hash in computed:
            served[cpf] = _served(cpf, computed[cpf_hash], ScoreSource.COMPUTED, scorecard)
        elif cpf_hash in suspended:
            served[cpf] = ErrorCode.SCORE_SUSPENDED
        else:
            served[cpf] = ErrorCode.NO_CREDIT_DATA
    return served


def score_get(*, cpf: Cpf, admit: Callable[[], None] = _admit_everything) -> ServedScore:
    """The score of one CPF (see scores_get). Raises NoCreditData when there is no profile
    (never a made-up score), ScoreSuspended when its consumer suspended access to it."""
    served = scores_get(cpfs=[cpf], admit=admit)[cpf]
    if served == ErrorCode.SCORE_SUSPENDED:
        raise ScoreSuspended()
    if not isinstance(served, ServedScore):
        raise NoCreditData()
    return served


def _computed(
    cpf_hashes: Sequence[str], scorecard: Scorecard, *, generation: int | None
) -> tuple[dict[str, score_cache.CachedScore], set[str]]:
    """Score the profiles of these hashes that exist and are not suspended, and cache the
    scores under `generation` (not when None); and the hashes whose score is suspended.

    One query for the profiles and their consumers' requests. A CPF without a profile has
    no score to suspend: it is answered as no credit data, suspended or not."""
    profiles = credit_profiles_get(cpf_hashes=cpf_hashes)
    suspended = {cpf_hash for cpf_hash, found in profiles.items() if found.suspended}
    computed: dict[str, score_cache.CachedScore] = {}
    for cpf_hash, found in profiles.items():
        if found.suspended:
            continue
        profile = found.profile
        result = scorecard.score(profile.characteristics())
        computed[cpf_hash] = score_cache.CachedScore(
            score=result.score,
            band=result.band.value,
            probability_of_default=result.probability_of_default,
            reason_codes=result.reason_codes,
            model_version=scorecard.version,
            profile_version=profile.version,
            computed_at=timezone.now(),
            under_dispute=found.under_dispute,
        )
    if generation is None:
        return computed, suspended
    if len(computed) == 1:
        [(cpf_hash, score)] = computed.items()
        score_cache.put(cpf_hash, score, generation=generation)  # conditional on the version
    elif computed and score_cache.put_many(computed, generation=generation):
        _invalidate_changed_since(computed)
    return computed, suspended


def _invalidate_changed_since(written: Mapping[str, score_cache.CachedScore]) -> None:
    """BatchWriteItem cannot be conditional: a profile changed after it was read here may
    have been invalidated before the batch landed. Read the versions again, after the write,
    and put the tombstones of those that changed back."""
    current = credit_profile_versions(cpf_hashes=list(written))
    changed = {
        cpf_hash: version
        for cpf_hash, version in current.items()
        if version != written[cpf_hash].profile_version
    }
    if changed:
        score_cache.invalidate(changed)


def _served(
    cpf: Cpf, cached: score_cache.CachedScore, source: ScoreSource, scorecard: Scorecard
) -> ServedScore:
    return ServedScore(
        cpf=cpf,
        score=cached.score,
        band=cached.band,
        probability_of_default=cached.probability_of_default,
        reasons=tuple(scorecard.reason(code) for code in cached.reason_codes),
        model_version=cached.model_version,
        computed_at=cached.computed_at,
        source=source,
        under_dispute=cached.under_dispute,
    )
