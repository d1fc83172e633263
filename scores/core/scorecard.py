"""Points-based scorecards: versioned data in `scores/scorecards/*.json`, a pure engine here.

Pure Python, no Django. A scorecard gives each characteristic of a credit profile
a set of half-open bins `[lower, upper)` with points; the score is the base points plus the
points of each characteristic's bin, clamped to 0-1000. The scale is points-to-double-the-
odds: `anchor_score` sits at `anchor_good_bad_odds`, and every `points_to_double_odds` more
points double the good:bad odds. The probability of default is that scaling inverted.

Loading validates the file: contiguous bins from 0 to infinity, unique reason codes, and
points that never rise with risk where the characteristic declares a risk direction.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path

SCORECARD_DIR = Path(__file__).resolve().parent.parent / "scorecards"
MIN_SCORE = 0
MAX_SCORE = 1000
MAX_REASONS = 4
PD_QUANTUM = Decimal("0.0001")


class Band(enum.StrEnum):
    """Serasa-style score bands."""

    LOW = "low"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


# Upper bound (inclusive) of each band, in ascending order.
_BAND_UPPER_BOUNDS = (
    (300, Band.LOW),
    (500, Band.FAIR),
    (700, Band.GOOD),
    (MAX_SCORE, Band.EXCELLENT),
)


def band_for(score: int) -> Band:
    """0-300 low, 301-500 fair, 501-700 good, 701-1000 excellent."""
    for upper, band in _BAND_UPPER_BOUNDS:
        if score <= upper:
            return band
    raise ValueError(f"score {score} is above {MAX_SCORE}")


class Risk(enum.StrEnum):
    """How risk moves as a characteristic's value grows; points must move the other way."""

    INCREASING = "increasing"
    DECREASING = "decreasing"
    NONE = "none"


class InvalidScorecard(ValueError):
    """A scorecard file that must not be served."""


ProfileValue = int | Decimal


@dataclass(frozen=True, slots=True)
class Bin:
    lower: Decimal
    upper: Decimal | None  # None: no upper bound
    points: int

    def contains(self, value: ProfileValue) -> bool:
        return self.lower <= value and (self.upper is None or value < self.upper)


@dataclass(frozen=True, slots=True)
class Characteristic:
    name: str
    reason_code: str
    risk: Risk
    descriptions: Mapping[str, str]  # language code ("en", "pt-BR") -> reason text
    bins: tuple[Bin, ...]

    @property
    def max_points(self) -> int:
        return max(bin_.points for bin_ in self.bins)

    def points_for(self, value: ProfileValue) -> int:
        for bin_ in self.bins:
            if bin_.contains(value):
                return bin_.points
        raise ValueError(f"{self.name}={value} is outside every bin")


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """What the engine decides for one profile."""

    score: int
    band: Band
    probability_of_default: Decimal
    reason_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scorecard:
    version: str
    base_points: int
    anchor_score: int
    anchor_good_bad_odds: Decimal
    points_to_double_odds: int
    characteristics: tuple[Characteristic, ...]

    @property
    def characteristic_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.characteristics)

    def score(self, profile: Mapping[str, ProfileValue]) -> ScoreResult:
        """Score a profile (a mapping with a value for every characteristic)."""
        points_lost: list[tuple[int, str]] = []
        total = self.base_points
        for characteristic in self.characteristics:
            points = characteristic.points_for(profile[characteristic.name])
            total += points
            lost = characteristic.max_points - points
            if lost > 0:
                points_lost.append((lost, characteristic.reason_code))
        score = min(max(total, MIN_SCORE), MAX_SCORE)
        # Most points lost first; ties broken by code so the order is deterministic.
        points_lost.sort(key=lambda item: (-item[0], item[1]))
        return ScoreResult(
            score=score,
            band=band_for(score),
            probability_of_default=self.probability_of_default(score),
            reason_codes=tuple(code for _, code in points_lost[:MAX_REASONS]),
        )

    def probability_of_default(self, score: int) -> Decimal:
        """Invert the scaling: good:bad odds at `score`, then bad / (good + bad)."""
        factor = self.points_to_double_odds / math.log(2)
        log_odds = math.log(self.anchor_good_bad_odds) + (score - self.anchor_score) / factor
        probability = 1 / (1 + math.exp(log_odds))
        return Decimal(probability).quantize(PD_QUANTUM, rounding=ROUND_HALF_UP)

    def reason(self, code: str, language: str = "en") -> Reason:
        for characteristic in self.characteristics:
            if characteristic.reason_code == code:
                return Reason(code=code, description=characteristic.descriptions[language])
        raise KeyError(code)


def parse_scorecard(data: Mapping[str, object]) -> Scorecard:
    """Build and validate a Scorecard from a decoded JSON document (numbers as Decimal)."""
    try:
        scaling = data["scaling"]
        if not isinstance(scaling, Mapping):
            raise InvalidScorecard("scaling must be an object")
        characteristics = tuple(
            _parse_characteristic(item)
            for item in data["characteristics"]  # type: ignore[attr-defined]
        )
        scorecard = Scorecard(
            version=str(data["version"]),
            base_points=int(data["base_points"]),  # type: ignore[call-overload]
            anchor_score=int(scaling["anchor_score"]),
            anchor_good_bad_odds=Decimal(scaling["anchor_good_bad_odds"]),
            points_to_double_odds=int(scaling["points_to_double_odds"]),
            characteristics=characteristics,
        )
    except InvalidScorecard:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidScorecard(f"malformed scorecard: {exc!r}") from exc
    codes = [c.reason_code for c in characteristics]
    if len(set(codes)) != len(codes):
        raise InvalidScorecard("reason codes must be unique")
    names = scorecard.characteristic_names
    if len(set(names)) != len(names):
        raise InvalidScorecard("characteristic names must be unique")
    if scorecard.anchor_good_bad_odds <= 0 or scorecard.points_to_double_odds <= 0:
        raise InvalidScorecard("scaling must have positive odds and points to double the odds")
    return scorecard


def _parse_characteristic(item: Mapping[str, object]) -> Characteristic:
    name = str(item["name"])
    bins = tuple(
        Bin(
            lower=Decimal(bin_["lower"]),
            upper=None if bin_["upper"] is None else Decimal(bin_["upper"]),
            points=int(bin_["points"]),
        )
        for bin_ in item["bins"]  # type: ignore[attr-defined]
    )
    if not bins or bins[0].lower != 0 or bins[-1].upper is not None:
        raise InvalidScorecard(f"{name}: bins must start at 0 and end unbounded")
    for current, following in pairwise(bins):
        if current.upper is None or current.upper != following.lower:
            raise InvalidScorecard(f"{name}: bins must be contiguous and ascending")
        if current.lower >= current.upper:
            raise InvalidScorecard(f"{name}: empty bin at {current.lower}")
    risk = Risk(str(item["risk"]))
    points = [bin_.points for bin_ in bins]
    if risk is Risk.INCREASING and points != sorted(points, reverse=True):
        raise InvalidScorecard(f"{name}: points must not rise as risk increases")
    if risk is Risk.DECREASING and points != sorted(points):
        raise InvalidScorecard(f"{name}: points must not fall as risk decreases")
    descriptions = item["description"]
    if not isinstance(descriptions, Mapping) or not {"en", "pt-BR"} <= descriptions.keys():
        raise InvalidScorecard(f"{name}: needs 'en' and 'pt-BR' descriptions")
    return Characteristic(
        name=name,
        reason_code=str(item["reason_code"]),
        risk=risk,
        descriptions=dict(descriptions),
        bins=bins,
    )


@cache
def available_versions() -> tuple[str, ...]:
    """Versions shipped in SCORECARD_DIR, oldest first (versions sort as `YYYY.N`)."""
    return tuple(
        sorted(
            (path.stem for path in SCORECARD_DIR.glob("*.json")),
            key=lambda version: tuple(int(part) for part in version.split(".")),
        )
    )


@cache
def load_scorecard(version: str) -> Scorecard:
    """The shipped scorecard `version`, parsed and validated once per process."""
    if version not in available_versions():
        raise InvalidScorecard(f"no scorecard {version!r} in {SCORECARD_DIR}")
    with (SCORECARD_DIR / f"{version}.json").open(encoding="utf-8") as file:
        scorecard = parse_scorecard(json.load(file, parse_float=Decimal, parse_int=Decimal))
    if scorecard.version != version:
        raise InvalidScorecard(f"{version}.json declares version {scorecard.version!r}")
    return scorecard
