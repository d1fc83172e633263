"""Synthetic audit rows, to measure the auditors' pages at production volumes (bench/).

Rows look like a year of a credit bureau's traffic: a few organizations of very different
sizes with one to four keys each, business hours and quiet weekends, traffic growing over
the period, every outcome the API records (mostly scored), cache and computed scores,
a long latency tail, a scorecard change half-way, and a few CPFs consulted far more often
than the rest. Deterministic for a seed.

Used by `manage.py generate_audit_rows`, which writes them (COPY on Postgres).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.constants import Purpose
from scoreportal.api.errors import ERROR_STATUS_AND_MESSAGE
from scoreportal.error_codes import ErrorCode
from scores.constants import OUTCOME_CHOICES, OUTCOME_SCORED, Endpoint, ScoreSource
from scores.core.cpf import Cpf, InvalidCpf
from scores.core.scorecard import band_for, bins_text, load_scorecard

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

# The CPFs the documentation publishes, and three more, are consulted far more than the rest.
HOT_CPFS = (
    Cpf.parse("529.982.247-25"),
    Cpf.parse("111.444.777-35"),
    *(Cpf.from_base(base) for base in ("123456780", "987654320", "246813570")),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How often an outcome happens and what its audit row records."""

    weight: float
    authenticated: bool  # the key verified: organization and key are recorded
    with_cpf: bool  # the CPF was parsed before the answer


# How many bins each characteristic of the shipped scorecard has, in its order.
_BIN_COUNTS = tuple(len(c.bins) for c in load_scorecard("2026.1").characteristics)

# What the API records for each outcome (scores/api/views.py): failures before the body is read
# have no CPF and no purpose; failed authentications have only the presented prefix.
OUTCOMES: dict[str, Outcome] = {
    OUTCOME_SCORED: Outcome(0.85, authenticated=True, with_cpf=True),
    ErrorCode.NO_CREDIT_DATA: Outcome(0.06, authenticated=True, with_cpf=True),
    ErrorCode.SCORE_SUSPENDED: Outcome(0.0005, authenticated=True, with_cpf=True),
    ErrorCode.SERVICE_UNAVAILABLE: Outcome(0.002, authenticated=True, with_cpf=True),
    ErrorCode.INTERNAL_ERROR: Outcome(0.0005, authenticated=True, with_cpf=True),
    ErrorCode.INVALID_CPF: Outcome(0.025, authenticated=True, with_cpf=False),
    ErrorCode.INVALID_REQUEST: Outcome(0.006, authenticated=True, with_cpf=False),
    ErrorCode.INSUFFICIENT_SCOPE: Outcome(0.003, authenticated=True, with_cpf=False),
    ErrorCode.IP_NOT_ALLOWED: Outcome(0.002, authenticated=True, with_cpf=False),
    ErrorCode.RATE_LIMITED: Outcome(0.02, authenticated=True, with_cpf=False),
    ErrorCode.QUOTA_EXCEEDED: Outcome(0.008, authenticated=True, with_cpf=False),
    ErrorCode.PAYLOAD_TOO_LARGE: Outcome(0.0005, authenticated=True, with_cpf=False),
    ErrorCode.METHOD_NOT_ALLOWED: Outcome(0.001, authenticated=True, with_cpf=False),
    ErrorCode.NOT_FOUND: Outcome(0.0005, authenticated=False, with_cpf=False),
    ErrorCode.MISSING_API_KEY: Outcome(0.005, authenticated=False, with_cpf=False),
    ErrorCode.INVALID_API_KEY: Outcome(0.01, authenticated=False, with_cpf=False),
    ErrorCode.API_KEY_EXPIRED: Outcome(0.002, authenticated=False, with_cpf=False),
    ErrorCode.API_KEY_REVOKED: Outcome(0.003, authenticated=False, with_cpf=False),
}
_MISSING_OUTCOMES = {value for value, _label in OUTCOME_CHOICES} - set(OUTCOMES)
if _MISSING_OUTCOMES:  # a new error code must be given a share here
    raise RuntimeError(f"no synthetic share for outcomes {sorted(_MISSING_OUTCOMES)}")

_ALL_PURPOSES = [purpose.value for purpose in Purpose]
_ALL_PURPOSE_WEIGHTS = [{Purpose.CREDIT_ANALYSIS: 0.6}.get(p, 0.4 / 3) for p in Purpose]
_STATUS = {code.value: status for code, (status, _message) in ERROR_STATUS_AND_MESSAGE.items()}
# Share of traffic by hour of the day in São Paulo: business hours, a lunch dip, quiet nights.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 17, 12, 15, 18, 18, 16, 13, 9, 6, 4, 3, 2, 1)
_WEEKDAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.95, 0.45, 0.25)  # Monday first
# Traffic at the end of the period compared with its start.
_GROWTH = 2.0


@dataclass(frozen=True, slots=True)
class SyntheticKey:
    """A key rows are attributed to: its prefix, its organization, its egress addresses."""

    prefix: str
    organization_id: int
    addresses: tuple[str, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class SyntheticRow:
    """One audit row's values, by model attribute name."""

    values: dict[str, object]


def rows_per_day(*, total: int, days: int, end: datetime) -> list[tuple[datetime, int]]:
    """How many rows each of the `days` São Paulo days up to `end` gets (the start of each
    day, its count), adding up to `total`."""
    last = end.astimezone(SAO_PAULO).date()
    starts = [last - timedelta(days=days - 1 - offset) for offset in range(days)]
    weights = [
        (1 + (_GROWTH - 1) * offset / max(days - 1, 1)) * _WEEKDAY_WEIGHTS[day.weekday()]
        for offset, day in enumerate(starts)
    ]
    scale = total / sum(weights)
    counts = [int(weight * scale) for weight in weights]
    for index in range(total - sum(counts)):  # what rounding left, to the latest days
        counts[-1 - index % days] += 1
    return [
        (datetime(day.year, day.month, day.day, tzinfo=SAO_PAULO), count)
        for day, count in zip(starts, counts, strict=True)
    ]


class Generator:
    """Rows for the given keys; `presented` are prefixes of keys that fail authentication
    (revoked, expired)."""

    def __init__(
        self,
        *,
        keys: Sequence[SyntheticKey],
        presented: Sequence[str],
        total: int,
        cpf_hash_key: bytes,
        scorecard_changed_at: datetime,
        seed: int = 2026,
    ) -> None:
        self.random = random.Random(seed)  # noqa: S311  (synthetic data, not secrets)
        self.keys = list(keys)
        self.key_weights = [key.weight for key in keys]
        self.presented = list(presented) or ["Xx000000"]
        self.outcome_values = list(OUTCOMES)
        self.outcome_weights = [OUTCOMES[value].weight for value in self.outcome_values]
        self.endpoints = [endpoint.value for endpoint in Endpoint]
        # The first endpoint (single scores) carries most of the traffic.
        self.endpoint_weights = [5.0] + [1.0] * (len(self.endpoints) - 1)
        self.cpf_hash_key = cpf_hash_key
        self.scorecard_changed_at = scorecard_changed_at
        # About three consultations per CPF on average, and the hot ones far more.
        self.pool = max(total // 3, 1)
        self.hot = list(HOT_CPFS)
        # Each of them about a thousand times in ten million rows (twenty in smaller sets).
        self.hot_share = min(len(self.hot) * max(total // 10_000, 20) / total, 0.5)
        self.pool_start = self.random.randrange(100_000_000, 400_000_000)

    def day(self, start: datetime, count: int, *, until: datetime) -> Iterator[SyntheticRow]:
        """`count` rows on the day starting at `start`, in time order, none after `until`."""
        rng = self.random
        span = min(until - start, timedelta(days=1))
        hours = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=count)
        moments = sorted(
            start + (timedelta(hours=hour, microseconds=rng.randrange(3_600_000_000)) % span)
            for hour in hours
        )
        # Drawn for the whole day at once: far cheaper than one draw per row.
        outcomes = rng.choices(self.outcome_values, weights=self.outcome_weights, k=count)
        keys = rng.choices(self.keys, weights=self.key_weights, k=count)
        endpoints = rng.choices(self.endpoints, weights=self.endpoint_weights, k=count)
        purposes = rng.choices(_ALL_PURPOSES, weights=_ALL_PURPOSE_WEIGHTS, k=count)
        for moment, outcome, key, endpoint, purpose in zip(
            moments, outcomes, keys, endpoints, purposes, strict=True
        ):
            yield self.row(moment, outcome, key, endpoint, purpose)

    def row(
        self, moment: datetime, outcome_value: str, key: SyntheticKey, endpoint: str, purpose: str
    ) -> SyntheticRow:
        rng = self.random
        outcome = OUTCOMES[outcome_value]
        scored = outcome_value == OUTCOME_SCORED
        values: dict[str, object] = {
            "occurred_at": moment,
            "request_id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "endpoint": endpoint,
            "outcome": outcome_value,
            "http_status": 200 if scored else _STATUS[outcome_value],
            "organization_id": None,
            "api_key_id": None,
            "api_key_prefix": "",
            "client_ip": None,
            "purpose": "",
            "cpf_hash": "",
            "cpf_masked": "",
            "score": None,
            "band": "",
            "model_version": "",
            "characteristic_bins": "",
            "source": "",
            "latency_ms": self.latency(outcome_value, cached=False),
        }
        if outcome.authenticated:
            values.update(
                organization_id=key.organization_id,
                api_key_id=key.prefix,
                api_key_prefix=key.prefix,
                client_ip=rng.choice(key.addresses),
            )
        else:
            values["client_ip"] = (
                f"189.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            )
            if outcome_value == ErrorCode.INVALID_API_KEY:
                values["api_key_prefix"] = f"{rng.getrandbits(32):08x}"
            elif outcome_value in (ErrorCode.API_KEY_EXPIRED, ErrorCode.API_KEY_REVOKED):
                values["api_key_prefix"] = rng.choice(self.presented)
        if outcome.with_cpf:
            cpf = self.cpf()
            values.update(
                cpf_hash=cpf.lookup_hash(self.cpf_hash_key), cpf_masked=cpf.masked, purpose=purpose
            )
        if scored:
            score = min(max(int(rng.gauss(640, 170)), 0), 1000)
            cached = rng.random() < 0.7
            values.update(
                score=score,
                band=band_for(score).value,
                characteristic_bins=self.bins(score),
                model_version="2026.1" if moment >= self.scorecard_changed_at else "2025.2",
                source=ScoreSource.CACHE.value if cached else ScoreSource.COMPUTED.value,
                latency_ms=self.latency(outcome_value, cached=cached),
            )
        return SyntheticRow(values)

    def bins(self, score: int) -> str:
        """Each characteristic's bin (the shipped scorecard's), drawn around where the score
        puts it: the characteristic stability report has figures to read."""
        rng = self.random
        return bins_text(
            tuple(
                min(max(int(score / 1000 * count + rng.gauss(0, 0.8)), 0), count - 1)
                for count in _BIN_COUNTS
            )
        )

    def cpf(self) -> Cpf:
        rng = self.random
        if rng.random() < self.hot_share:
            return rng.choice(self.hot)
        base = self.pool_start + rng.randrange(self.pool) * 97
        while True:
            try:
                return Cpf.from_base(f"{base % 1_000_000_000:09d}")
            except InvalidCpf:  # nine equal digits
                base += 1

    def latency(self, outcome: str, *, cached: bool) -> int:
        rng = self.random
        if rng.random() < 0.01:  # the tail: cold starts, a slow database
            return int(rng.uniform(150, 2500))
        if outcome != OUTCOME_SCORED:
            return max(int(rng.lognormvariate(1.3, 0.4)), 1)
        return max(int(rng.lognormvariate(2.2 if cached else 2.7, 0.35)), 1)
