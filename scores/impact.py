"""The impact of a scorecard version on the credit profiles, against another version.

Both scorecards are turned into SQL (each characteristic's bins a CASE, the score clamped
as the engine clamps it, the first reason as the largest points lost with ties to the
smaller code) and Postgres scores a range of profiles with both at once, returning tallies
only: how many profiles per score under each version and per pair of bands, and how many
change their first reason, each for every profile and for those consulted in the last 30
days. A task adds the tallies of range after range (scores.services.scorecards); the
summary (`ImpactSummary`) is computed from them, the PD of each score by the engine itself.
Nothing is scored in Python and nothing per profile leaves the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from scores.core.scorecard import MAX_SCORE, MIN_SCORE, Band, Scorecard, band_for
from scores.models import Consultation, CreditProfile

BANDS = tuple(Band)
POPULATIONS = ("all", "recent")
HISTOGRAM_WIDTH = 50
RECENT_DAYS = 30

Tallies = dict[str, Any]


def empty_tallies() -> Tallies:
    """Tallies of no profile: per population, profiles per score under each version, per
    pair of bands (current → proposed), and first reasons that change."""
    size = MAX_SCORE - MIN_SCORE + 1
    return {
        population: {
            "current": [0] * size,
            "proposed": [0] * size,
            "matrix": [[0] * len(BANDS) for _ in BANDS],
            "reason_changed": 0,
        }
        for population in POPULATIONS
    }


def _points_sql(scorecard: Scorecard, prefix: str) -> tuple[list[str], list[Any]]:
    """Each characteristic's points as a CASE on the profile's column (`<prefix><i>`), and
    the bounds as params. Points and names are the validated scorecard's integers and
    identifiers; bounds (decimals) are parameters."""
    columns: list[str] = []
    params: list[Any] = []
    for index, characteristic in enumerate(scorecard.characteristics):
        column = connection.ops.quote_name(characteristic.name)
        whens = []
        for bin_ in characteristic.bins[:-1]:
            whens.append(f"WHEN {column} < %s THEN {int(bin_.points)}")
            params.append(bin_.upper)
        last = int(characteristic.bins[-1].points)
        case = f"CASE {' '.join(whens)} ELSE {last} END" if whens else str(last)
        columns.append(f"({case}) AS {prefix}{index}")
    return columns, params


def _score_and_reason_sql(scorecard: Scorecard, prefix: str) -> tuple[str, str]:
    """The score (clamped as the engine clamps it) and the first reason's rank (0: none)
    from the points columns `<prefix><i>`."""
    points = [f"{prefix}{index}" for index in range(len(scorecard.characteristics))]
    score = (
        f"LEAST(GREATEST({int(scorecard.base_points)} + {' + '.join(points)}, {MIN_SCORE}),"
        f" {MAX_SCORE})"
    )
    # Points lost times 1000 plus a rank that is higher for the smaller code: the greatest
    # term is the engine's first reason (most points lost, ties to the smaller code).
    codes = sorted(c.reason_code for c in scorecard.characteristics)
    terms = []
    for characteristic, column in zip(scorecard.characteristics, points, strict=True):
        rank = len(codes) - codes.index(characteristic.reason_code)
        lost = f"({int(characteristic.max_points)} - {column})"
        terms.append(f"CASE WHEN {lost} > 0 THEN {lost} * 1000 + {rank} ELSE 0 END")
    return score, f"(GREATEST({', '.join(terms)}) %% 1000)"


def _reason_code_sql(scorecard: Scorecard, rank_column: str) -> str:
    """The first reason's code from its rank (NULL: no reason)."""
    codes = sorted(c.reason_code for c in scorecard.characteristics)
    whens = " ".join(f"WHEN {len(codes) - index} THEN '{code}'" for index, code in enumerate(codes))
    return f"(CASE {rank_column} {whens} END)"


def _band_sql(score_column: str) -> str:
    return (
        f"(CASE WHEN {score_column} <= 300 THEN 0 WHEN {score_column} <= 500 THEN 1"
        f" WHEN {score_column} <= 700 THEN 2 ELSE 3 END)"
    )


def tally_range(
    *,
    current: Scorecard,
    proposed: Scorecard,
    after: str,
    limit: int,
    recent_since: datetime,
) -> tuple[Tallies, str | None, int]:
    """Score the next `limit` profiles (by CPF hash, after `after`) with both scorecards:
    their tallies, the last hash read (None when there was none) and how many were read."""
    current_points, current_params = _points_sql(current, "pa")
    proposed_points, proposed_params = _points_sql(proposed, "pb")
    current_score, current_reason = _score_and_reason_sql(current, "pa")
    proposed_score, proposed_reason = _score_and_reason_sql(proposed, "pb")
    profiles = connection.ops.quote_name(CreditProfile._meta.db_table)
    consultations = connection.ops.quote_name(Consultation._meta.db_table)
    # Reason codes are validated texts (the engine's rules), compared as the API shows them.
    changed = (
        f"({_reason_code_sql(current, 'ra')} IS DISTINCT FROM {_reason_code_sql(proposed, 'rb')})"
    )
    # Identifiers are the models' and the validated characteristics' names, points the
    # validated integers; the bounds, the cursor and the date are parameters. Each bin's
    # CASE is evaluated once per profile (chunk), the score and reason read its columns.
    sql = f"""
        WITH chunk AS (
            SELECT p.cpf_hash, {", ".join([*current_points, *proposed_points])},
                EXISTS (
                    SELECT 1 FROM {consultations} c
                    WHERE c.cpf_hash = p.cpf_hash AND c.occurred_at >= %s
                ) AS recent
            FROM {profiles} p
            WHERE p.cpf_hash > %s
            ORDER BY p.cpf_hash
            LIMIT %s
        ), scored AS (
            SELECT
                {current_score} AS a,
                {proposed_score} AS b,
                {current_reason} AS ra,
                {proposed_reason} AS rb,
                recent
            FROM chunk
        ), marked AS (
            SELECT a, b, recent, {_band_sql("a")} AS band_a, {_band_sql("b")} AS band_b,
                {changed} AS changed
            FROM scored
        )
        SELECT 0, recent, a, NULL::integer, count(*) FROM marked GROUP BY recent, a
        UNION ALL
        SELECT 1, recent, b, NULL::integer, count(*) FROM marked GROUP BY recent, b
        UNION ALL
        SELECT 2, recent, band_a, band_b, count(*) FROM marked GROUP BY recent, band_a, band_b
        UNION ALL
        SELECT 3, recent, NULL::integer, NULL::integer, count(*) FROM marked WHERE changed
            GROUP BY recent
        UNION ALL
        SELECT 4, NULL::boolean, NULL::integer, NULL::integer, count(*) FROM chunk
    """  # noqa: S608
    last_sql = (
        f"SELECT max(cpf_hash) FROM (SELECT cpf_hash FROM {profiles}"  # noqa: S608
        " WHERE cpf_hash > %s ORDER BY cpf_hash LIMIT %s) chunk"
    )
    tallies = empty_tallies()
    read = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [*current_params, *proposed_params, recent_since, after, limit])
        for kind, recent, first, second, count in cursor.fetchall():
            populations = ["all", "recent"] if recent else ["all"]
            for population in populations:
                tally = tallies[population]
                if kind == 0:
                    tally["current"][first] += count
                elif kind == 1:
                    tally["proposed"][first] += count
                elif kind == 2:
                    tally["matrix"][first][second] += count
                elif kind == 3:
                    tally["reason_changed"] += count
            if kind == 4:
                read = count
        cursor.execute(last_sql, [after, limit])
        (last,) = cursor.fetchone()
    return tallies, last, read


def tallies_add(total: Tallies, part: Tallies) -> Tallies:
    for population in POPULATIONS:
        into, add = total[population], part[population]
        for key in ("current", "proposed"):
            into[key] = [x + y for x, y in zip(into[key], add[key], strict=True)]
        into["matrix"] = [
            [x + y for x, y in zip(row, other, strict=True)]
            for row, other in zip(into["matrix"], add["matrix"], strict=True)
        ]
        into["reason_changed"] += add["reason_changed"]
    return total


@dataclass(frozen=True, slots=True)
class PopulationImpact:
    """The impact on one population (every profile, or those consulted lately)."""

    profiles: int
    histogram_current: tuple[int, ...]
    histogram_proposed: tuple[int, ...]
    matrix: tuple[tuple[int, ...], ...]  # current band (row) → proposed band (column)
    mean_score_current: Decimal | None
    mean_score_proposed: Decimal | None
    mean_pd_current: Decimal | None
    mean_pd_proposed: Decimal | None
    reason_changed: int

    @property
    def reason_changed_share(self) -> Decimal | None:
        return _share(self.reason_changed, self.profiles)

    @property
    def matrix_shares(self) -> tuple[tuple[Decimal | None, ...], ...]:
        return tuple(tuple(_share(count, self.profiles) for count in row) for row in self.matrix)

    @property
    def moved(self) -> int:
        """Profiles whose band changes."""
        return self.profiles - sum(self.matrix[i][i] for i in range(len(BANDS)))


@dataclass(frozen=True, slots=True)
class ImpactSummary:
    current_version: str
    proposed_version: str
    populations: Mapping[str, PopulationImpact]


def histogram_labels() -> list[str]:
    """Bucket labels: 0-49, 50-99, ..., 950-1000 (the last takes 1000 in)."""
    labels = []
    for start in range(MIN_SCORE, MAX_SCORE, HISTOGRAM_WIDTH):
        end = start + HISTOGRAM_WIDTH - 1 if start + HISTOGRAM_WIDTH < MAX_SCORE else MAX_SCORE
        labels.append(f"{start}-{end}")
    return labels


def _histogram(counts: Sequence[int]) -> tuple[int, ...]:
    buckets = [0] * (MAX_SCORE // HISTOGRAM_WIDTH)
    for score, count in enumerate(counts):
        buckets[min(score // HISTOGRAM_WIDTH, len(buckets) - 1)] += count
    return tuple(buckets)


def _share(count: int, total: int) -> Decimal | None:
    return None if not total else (Decimal(count) / Decimal(total)).quantize(Decimal("0.0001"))


def _means(scorecard: Scorecard, counts: Sequence[int]) -> tuple[Decimal | None, Decimal | None]:
    total = sum(counts)
    if not total:
        return None, None
    score_sum = sum(score * count for score, count in enumerate(counts))
    pd_sum = sum(
        (
            scorecard.probability_of_default(score) * count
            for score, count in enumerate(counts)
            if count
        ),
        Decimal(0),
    )
    return (
        (Decimal(score_sum) / total).quantize(Decimal("0.01")),
        (pd_sum / total).quantize(Decimal("0.0001")),
    )


def impact_summary(*, current: Scorecard, proposed: Scorecard, tallies: Tallies) -> ImpactSummary:
    """What the tallies say: histograms, band migration, means, reason changes."""
    populations = {}
    for population in POPULATIONS:
        tally = tallies[population]
        mean_current, pd_current = _means(current, tally["current"])
        mean_proposed, pd_proposed = _means(proposed, tally["proposed"])
        populations[population] = PopulationImpact(
            profiles=sum(tally["current"]),
            histogram_current=_histogram(tally["current"]),
            histogram_proposed=_histogram(tally["proposed"]),
            matrix=tuple(tuple(row) for row in tally["matrix"]),
            mean_score_current=mean_current,
            mean_score_proposed=mean_proposed,
            mean_pd_current=pd_current,
            mean_pd_proposed=pd_proposed,
            reason_changed=tally["reason_changed"],
        )
    return ImpactSummary(
        current_version=current.version,
        proposed_version=proposed.version,
        populations=populations,
    )


def band_index(score: int) -> int:
    return BANDS.index(band_for(score))


def impact_compute(
    *, current: Scorecard, proposed: Scorecard, range_profiles: int = 100_000
) -> ImpactSummary:
    """The whole impact at once, range after range (the command line's; the admin's runs
    as a task in steps)."""
    tallies = empty_tallies()
    cursor = ""
    recent_since = timezone.now() - timedelta(days=RECENT_DAYS)
    while True:
        part, last, read = tally_range(
            current=current,
            proposed=proposed,
            after=cursor,
            limit=range_profiles,
            recent_since=recent_since,
        )
        tallies = tallies_add(tallies, part)
        cursor = last or cursor
        if read < range_profiles:
            return impact_summary(current=current, proposed=proposed, tallies=tallies)
