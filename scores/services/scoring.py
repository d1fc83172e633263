"""Serving scores: from the cache when fresh, else computed from the profiles.

One path for one CPF and for a batch. The cache is read on a worker thread while the
caller's `admit` runs on this one (the API counts the request against its key's limits
there, one DynamoDB call each, so they do not add up in latency), and nothing is scored
before `admit` has returned: a refused request costs no profile read and no scorecard.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from scoreportal.error_codes import ErrorCode
from scores.cache import score_cache
from scores.constants import ScoreSource
from scores.core.cpf import Cpf
from scores.core.scorecard import InvalidScorecard, Reason, Scorecard
from scores.exceptions import NoCreditData, ScoreSuspended
from scores.models import ShadowScore
from scores.selectors import (
    credit_profile_versions,
    credit_profiles_get,
    default_scorecard_version,
    scorecard_active_version,
    scorecard_get,
)

logger = logging.getLogger(__name__)

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
    # Each characteristic's bin (the audit row keeps them); () when the cached item has none.
    bins: tuple[int, ...] = ()


def _admit_everything() -> None:
    return None


def _confirm_nothing(items: Mapping[str, score_cache.Item] | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Admission:
    """What a request must pass before anything is scored.

    `admit` runs while the cache is read; `also_read` are keys of the cache's table read in
    the same call, and `confirm` gets their items once both have ended (None when the read
    failed or was skipped). What `confirm` raises wins over what `admit` raised.
    """

    admit: Callable[[], None] = _admit_everything
    also_read: Sequence[str] = ()
    confirm: Callable[[Mapping[str, score_cache.Item] | None], None] = _confirm_nothing


def scores_get(
    *,
    cpfs: Iterable[Cpf],
    admit: Callable[[], None] = _admit_everything,
    admission: Admission | None = None,
    organization_id: int | None = None,
) -> dict[Cpf, ServedScore | ErrorCode]:
    """The score of each CPF (each looked up once), or why there is none: NO_CREDIT_DATA,
    or SCORE_SUSPENDED when the consumer asked for access to their score to be suspended
    (never cached: the suspension replaced the cached score, so it is met computing).

    `admit` (or `admission.admit`) runs on this thread while the cache is read (one
    BatchGetItem per 99 CPFs, the cache's generation and `admission.also_read` asked in the
    same call); whatever it or `admission.confirm` raises propagates (once the read has
    ended) and nothing is scored. Cache misses are scored from profiles read in one
    query, and cached under the generation the read saw: one conditional PutItem for one
    score, BatchWriteItem for more (then the profile versions are read again, and a profile
    that changed meanwhile has its new score's item invalidated).

    A challenger named in the generation's item is scored in shadow beside the active
    scorecard on its share of the computed scores, from the profiles already read, and
    recorded (ShadowScore, for `organization_id`); never served, never cached. A cached
    score has no profile at hand: no shadow, no round trip.
    """
    admission = admission or Admission(admit=admit)
    hashes = {cpf: cpf.lookup_hash(settings.CPF_HASH_KEY) for cpf in cpfs}
    distinct = list(dict.fromkeys(hashes.values()))
    # Decided once: if the cache is cooling down now, this call does not write to it either.
    # A cool-down that ends while `admit` waits on DynamoDB (and times out) must not add the
    # write's own timeout to the same request.
    cache_in_use = score_cache.available()
    reading = _cache_reader.submit(
        score_cache.read,
        distinct,
        default_version=default_scorecard_version(),
        also=admission.also_read,
    )
    refused: Exception | None = None
    try:
        admission.admit()
    except Exception as exc:
        refused = exc
    finally:
        cache_read = reading.result()
    if admission.also_read:
        admission.confirm(cache_read.others)
    if refused is not None:
        raise refused
    scorecard = _serving_scorecard(cache_read.scorecard_version)
    cached = {
        cpf_hash: hit if hit is not None and hit.model_version == scorecard.version else None
        for cpf_hash, hit in cache_read.scores.items()
    }
    misses = [cpf_hash for cpf_hash in distinct if cached[cpf_hash] is None]
    # Computed scores are written under the generation this read saw; none if it failed.
    generation = cache_read.generation if cache_in_use else None
    challenger = _challenger(cache_read.challenger, scorecard)
    computed, suspended = (
        _computed(
            misses,
            scorecard,
            generation=generation,
            challenger=challenger,
            organization_id=organization_id,
        )
        if misses
        else ({}, set())
    )
    served: dict[Cpf, ServedScore | ErrorCode] = {}
    for cpf, cpf_hash in hashes.items():
        hit = cached[cpf_hash]
        if hit is not None:
            served[cpf] = _served(cpf, hit, ScoreSource.CACHE, scorecard)
        elif cpf_hash in computed:
            served[cpf] = _served(cpf, computed[cpf_hash], ScoreSource.COMPUTED, scorecard)
        else:
            served[cpf] = (
                ErrorCode.SCORE_SUSPENDED if cpf_hash in suspended else ErrorCode.NO_CREDIT_DATA
            )
    return served


def _serving_scorecard(named: str | None) -> Scorecard:
    """The scorecard to serve: the one the cache's generation item names (read with the
    scores: no round trip of its own), the first boot's default when it names none, and the
    portal's record (one query) when the cache could not be read."""
    version = scorecard_active_version() if named is None else named or default_scorecard_version()
    try:
        return scorecard_get(version)
    except InvalidScorecard:
        # The item names a version this database does not hold: serve the record's.
        logger.error("the score cache names an unknown scorecard; serving the recorded one")
        return scorecard_get(scorecard_active_version())


def _challenger(
    named: tuple[str, int] | None, scorecard: Scorecard
) -> tuple[Scorecard, int] | None:
    """The challenger to score in shadow and its share (percent), if any and servable."""
    if named is None or named[0] == scorecard.version or named[1] <= 0:
        return None
    try:
        return scorecard_get(named[0]), named[1]
    except InvalidScorecard:
        logger.error("the score cache names an unknown challenger; not scored")
        return None


def score_get(
    *,
    cpf: Cpf,
    admit: Callable[[], None] = _admit_everything,
    admission: Admission | None = None,
    organization_id: int | None = None,
) -> ServedScore:
    """The score of one CPF (see scores_get). Raises NoCreditData when there is no profile
    (never a made-up score), ScoreSuspended when its consumer suspended access to it."""
    served = scores_get(
        cpfs=[cpf], admit=admit, admission=admission, organization_id=organization_id
    )[cpf]
    if served == ErrorCode.SCORE_SUSPENDED:
        raise ScoreSuspended()
    if not isinstance(served, ServedScore):
        raise NoCreditData()
    return served


def _computed(
    cpf_hashes: Sequence[str],
    scorecard: Scorecard,
    *,
    generation: int | None,
    challenger: tuple[Scorecard, int] | None = None,
    organization_id: int | None = None,
) -> tuple[dict[str, score_cache.CachedScore], set[str]]:
    """Score the profiles of these hashes that exist and are not suspended, and cache the
    scores under `generation` (not when None); the challenger's shadow scores on its
    share, recorded; and the hashes whose score is suspended.

    One query for the profiles and their consumers' requests. A CPF without a profile has
    no score to suspend: it is answered as no credit data, suspended or not."""
    profiles = credit_profiles_get(cpf_hashes=cpf_hashes)
    suspended = {cpf_hash for cpf_hash, found in profiles.items() if found.suspended}
    computed: dict[str, score_cache.CachedScore] = {}
    shadows: list[ShadowScore] = []
    for cpf_hash, found in profiles.items():
        if found.suspended:
            continue
        profile = found.profile
        result = scorecard.score(profile.characteristics())
        if challenger is not None and _sampled(challenger[1]):
            shadow = challenger[0].score(profile.characteristics())
            shadows.append(
                ShadowScore(
                    organization_id=organization_id,
                    champion_version=scorecard.version,
                    champion_score=result.score,
                    champion_band=result.band.value,
                    challenger_version=challenger[0].version,
                    challenger_score=shadow.score,
                    challenger_band=shadow.band.value,
                    challenger_reason_codes=list(shadow.reason_codes),
                )
            )
        computed[cpf_hash] = score_cache.CachedScore(
            score=result.score,
            band=result.band.value,
            probability_of_default=result.probability_of_default,
            reason_codes=result.reason_codes,
            model_version=scorecard.version,
            profile_version=profile.version,
            computed_at=timezone.now(),
            under_dispute=found.under_dispute,
            bins=result.bins,
        )
    if shadows:
        _record_shadows(shadows)
    if generation is None:
        return computed, suspended
    if len(computed) == 1:
        [(cpf_hash, score)] = computed.items()
        score_cache.put(cpf_hash, score, generation=generation)  # conditional on the version
    elif computed and score_cache.put_many(computed, generation=generation):
        _invalidate_changed_since(computed)
    return computed, suspended


def _sampled(share: int) -> bool:
    """Whether this score is one of the challenger's `share` percent (not a secret: any
    generator will do)."""
    return share >= 100 or random.random() * 100 < share  # noqa: S311


def _record_shadows(shadows: list[ShadowScore]) -> None:
    """One INSERT for the request's shadow scores; a failure loses the comparison rows,
    never the answer."""
    try:
        ShadowScore.objects.bulk_create(shadows)
    except DatabaseError:
        logger.exception("shadow scores could not be recorded")


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
        bins=cached.bins,
    )
