"""Points-based scorecards: versioned data in `scores/scorecards/*.json`, a pure engine here.

Pure Python, no Django. A scorecard gives each characteristic of a credit profile
a set of half-open bins `[lower, upper)` with points; the score is the base points plus the
points of each characteristic's bin, clamped to 0-1000. The scale is points-to-double-the-
odds: `anchor_score` sits at `anchor_good_bad_odds`, and every `points_to_double_odds` more
points double the good:bad odds. The probability of default is that scaling inverted.

Loading validates the file (`scorecard_violations`, every broken rule with its path):
contiguous bins from 0 to infinity, unique names and reason codes, reason texts in both
languages, a positive scaling, and points that never rise with risk where the
characteristic declares a risk direction. The same rules check an uploaded version.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

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
        return self.bins[self.bin_index(value)].points

    def bin_index(self, value: ProfileValue) -> int:
        """The position of the bin `value` falls in."""
        for index, bin_ in enumerate(self.bins):
            if bin_.contains(value):
                return index
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
    # The bin of each characteristic, in the scorecard's order (characteristic stability).
    bins: tuple[int, ...] = ()


def bins_text(bins: tuple[int, ...]) -> str:
    """The bins as stored beside a score (the cache's item, the audit row): "0,3,1"."""
    return ",".join(map(str, bins))


def bins_from_text(text: str) -> tuple[int, ...]:
    """bins_text's inverse; () for an empty or malformed text (a score stored without bins)."""
    try:
        return tuple(int(part) for part in text.split(",")) if text else ()
    except ValueError:
        return ()


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
        bins: list[int] = []
        total = self.base_points
        for characteristic in self.characteristics:
            index = characteristic.bin_index(profile[characteristic.name])
            bins.append(index)
            points = characteristic.bins[index].points
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
            bins=tuple(bins),
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


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule a scorecard document breaks: where (`characteristics[1].bins[2].points`),
    which rule (`code`, a stable identifier the admin translates) and its details."""

    path: str
    code: str
    detail: str = ""

    def __str__(self) -> str:
        text = _VIOLATION_TEXTS[self.code]
        return f"{self.path or '(document)'}: {text.format(detail=self.detail)}"


# The English text of each rule (the command line's; the admin shows its own translations).
_VIOLATION_TEXTS = {
    "not_utf8": "the file is not UTF-8 text",
    "not_json": "the file is not JSON ({detail})",
    "version_exists": "version {detail} already exists",
    "missing": "is missing",
    "not_object": "must be an object",
    "not_list": "must be a list",
    "not_number": "must be a number",
    "not_integer": "must be a whole number",
    "not_text": "must be a non-empty text",
    "version_format": "must look like YYYY.N (2027.1)",
    "not_positive": "must be above zero",
    "no_bins": "must have at least one bin",
    "first_bin_not_zero": "the first bin must start at 0",
    "last_bin_bounded": "the last bin must have no upper bound (null)",
    "not_contiguous": "must start where the previous bin ends ({detail})",
    "empty_bin": "the bin is empty: its upper bound must be above its lower bound",
    "points_rise_with_risk": "points must not rise as risk increases",
    "points_fall_as_risk_falls": "points must not fall as risk decreases",
    "unknown_risk": "must be increasing, decreasing or none",
    "missing_language": "needs a reason text in {detail}",
    "duplicate_reason_code": "reason code {detail} is used twice",
    "duplicate_name": "characteristic {detail} appears twice",
    "unknown_characteristic": "{detail} is not a characteristic of the credit profile",
    "missing_characteristic": "the profile's characteristic {detail} is not scored",
}
VIOLATION_CODES = tuple(_VIOLATION_TEXTS)
_VERSION_FORMAT = re.compile(r"\A[0-9]{4}\.[0-9]{1,4}\Z")
LANGUAGES = ("en", "pt-BR")


class InvalidScorecard(ValueError):
    """A scorecard file that must not be served, and every rule it breaks."""

    def __init__(self, message: str, violations: tuple[Violation, ...] = ()) -> None:
        super().__init__(message)
        self.violations = violations


def scorecard_violations(
    data: object, *, characteristics: tuple[str, ...] | None = None
) -> list[Violation]:
    """Every rule the decoded document `data` breaks (numbers as Decimal), in document
    order; empty when it can be served. `characteristics`: the names the credit profile
    has, each of which must be scored exactly once (None: not checked)."""
    found: list[Violation] = []
    if not isinstance(data, Mapping):
        return [Violation("", "not_object")]
    version = data.get("version")
    if version is None:
        found.append(Violation("version", "missing"))
    elif not isinstance(version, str) or not _VERSION_FORMAT.match(version):
        found.append(Violation("version", "version_format"))
    _integer(data, "base_points", "base_points", found)
    scaling = data.get("scaling")
    if scaling is None:
        found.append(Violation("scaling", "missing"))
    elif not isinstance(scaling, Mapping):
        found.append(Violation("scaling", "not_object"))
    else:
        _integer(scaling, "anchor_score", "scaling.anchor_score", found)
        for key, check in (("anchor_good_bad_odds", _number), ("points_to_double_odds", _integer)):
            value = check(scaling, key, f"scaling.{key}", found)
            if value is not None and value <= 0:
                found.append(Violation(f"scaling.{key}", "not_positive"))
    items = data.get("characteristics")
    if items is None:
        found.append(Violation("characteristics", "missing"))
    elif not isinstance(items, list):
        found.append(Violation("characteristics", "not_list"))
    else:
        names: set[str] = set()
        codes: set[str] = set()
        for index, item in enumerate(items):
            path = f"characteristics[{index}]"
            if not isinstance(item, Mapping):
                found.append(Violation(path, "not_object"))
                continue
            name = _text(item, "name", f"{path}.name", found)
            if name is not None:
                if name in names:
                    found.append(Violation(f"{path}.name", "duplicate_name", name))
                elif characteristics is not None and name not in characteristics:
                    found.append(Violation(f"{path}.name", "unknown_characteristic", name))
                names.add(name)
            code = _text(item, "reason_code", f"{path}.reason_code", found)
            if code is not None:
                if code in codes:
                    found.append(Violation(f"{path}.reason_code", "duplicate_reason_code", code))
                codes.add(code)
            _characteristic_violations(item, path, found)
        for name in characteristics or ():
            if name not in names:
                found.append(Violation("characteristics", "missing_characteristic", name))
    return found


def _characteristic_violations(
    item: Mapping[str, object], path: str, found: list[Violation]
) -> None:
    risk = item.get("risk")
    if risk is None:
        found.append(Violation(f"{path}.risk", "missing"))
    elif risk not in set(Risk):
        found.append(Violation(f"{path}.risk", "unknown_risk"))
        risk = None
    descriptions = item.get("description")
    if descriptions is None:
        found.append(Violation(f"{path}.description", "missing"))
    elif not isinstance(descriptions, Mapping):
        found.append(Violation(f"{path}.description", "not_object"))
    else:
        for language in LANGUAGES:
            text = descriptions.get(language)
            if not isinstance(text, str) or not text.strip():
                found.append(Violation(f"{path}.description", "missing_language", language))
    bins = item.get("bins")
    if bins is None:
        found.append(Violation(f"{path}.bins", "missing"))
        return
    if not isinstance(bins, list):
        found.append(Violation(f"{path}.bins", "not_list"))
        return
    if not bins:
        found.append(Violation(f"{path}.bins", "no_bins"))
        return
    parsed: list[tuple[Decimal | None, Decimal | None, int | None]] = []
    for index, bin_ in enumerate(bins):
        bin_path = f"{path}.bins[{index}]"
        if not isinstance(bin_, Mapping):
            found.append(Violation(bin_path, "not_object"))
            parsed.append((None, None, None))
            continue
        lower = _number(bin_, "lower", f"{bin_path}.lower", found)
        upper = None
        if "upper" not in bin_:
            found.append(Violation(f"{bin_path}.upper", "missing"))
        elif bin_["upper"] is not None:
            upper = _number(bin_, "upper", f"{bin_path}.upper", found)
        points = _integer(bin_, "points", f"{bin_path}.points", found)
        parsed.append((lower, upper, points))
        if lower is not None and upper is not None and lower >= upper:
            found.append(Violation(bin_path, "empty_bin"))
    if parsed[0][0] is not None and parsed[0][0] != 0:
        found.append(Violation(f"{path}.bins[0].lower", "first_bin_not_zero"))
    if isinstance(bins[-1], Mapping) and bins[-1].get("upper", 0) is not None:
        found.append(Violation(f"{path}.bins[{len(bins) - 1}].upper", "last_bin_bounded"))
    for index in range(1, len(parsed)):
        previous_upper, lower = parsed[index - 1][1], parsed[index][0]
        if previous_upper is not None and lower is not None and previous_upper != lower:
            found.append(
                Violation(f"{path}.bins[{index}].lower", "not_contiguous", str(previous_upper))
            )
    for index in range(1, len(parsed)):
        before, after = parsed[index - 1][2], parsed[index][2]
        if before is None or after is None:
            continue
        if risk == Risk.INCREASING and after > before:
            found.append(Violation(f"{path}.bins[{index}].points", "points_rise_with_risk"))
        if risk == Risk.DECREASING and after < before:
            found.append(Violation(f"{path}.bins[{index}].points", "points_fall_as_risk_falls"))


def _number(
    data: Mapping[str, object], key: str, path: str, found: list[Violation]
) -> Decimal | None:
    value = data.get(key)
    if value is None:
        found.append(Violation(path, "missing"))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        found.append(Violation(path, "not_number"))
        return None
    number = Decimal(value)
    if not number.is_finite():
        found.append(Violation(path, "not_number"))
        return None
    return number


def _integer(data: Mapping[str, object], key: str, path: str, found: list[Violation]) -> int | None:
    number = _number(data, key, path, [])
    if number is None:
        _number(data, key, path, found)
        return None
    if number != number.to_integral_value():
        found.append(Violation(path, "not_integer"))
        return None
    return int(number)


def _text(data: Mapping[str, object], key: str, path: str, found: list[Violation]) -> str | None:
    value = data.get(key)
    if value is None:
        found.append(Violation(path, "missing"))
        return None
    if not isinstance(value, str) or not value.strip():
        found.append(Violation(path, "not_text"))
        return None
    return value


def parse_scorecard(data: object, *, characteristics: tuple[str, ...] | None = None) -> Scorecard:
    """Build a Scorecard from a decoded JSON document (numbers as Decimal), refusing one
    that breaks any rule (InvalidScorecard, with every violation)."""
    violations = scorecard_violations(data, characteristics=characteristics)
    if violations:
        raise InvalidScorecard("; ".join(str(v) for v in violations), tuple(violations))
    document: Any = data  # checked above
    scaling = document["scaling"]
    return Scorecard(
        version=str(document["version"]),
        base_points=int(document["base_points"]),
        anchor_score=int(scaling["anchor_score"]),
        anchor_good_bad_odds=Decimal(scaling["anchor_good_bad_odds"]),
        points_to_double_odds=int(scaling["points_to_double_odds"]),
        characteristics=tuple(_characteristic(item) for item in document["characteristics"]),
    )


def _characteristic(item: Mapping[str, Any]) -> Characteristic:
    return Characteristic(
        name=str(item["name"]),
        reason_code=str(item["reason_code"]),
        risk=Risk(str(item["risk"])),
        descriptions={language: str(item["description"][language]) for language in LANGUAGES},
        bins=tuple(
            Bin(
                lower=Decimal(bin_["lower"]),
                upper=None if bin_["upper"] is None else Decimal(bin_["upper"]),
                points=int(bin_["points"]),
            )
            for bin_ in item["bins"]
        ),
    )


def decode_scorecard(text: str | bytes) -> object:
    """A scorecard file's JSON, numbers as Decimal (ValueError when it is not JSON)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


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
        scorecard = parse_scorecard(decode_scorecard(file.read()))
    if scorecard.version != version:
        raise InvalidScorecard(f"{version}.json declares version {scorecard.version!r}")
    return scorecard
