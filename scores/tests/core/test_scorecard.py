"""The scorecard engine: golden results computed by hand, properties, and file validation.

Hand computation for 2026.1 (base 150; anchor 500 at 9:1, 60 points double the odds, so
factor = 60 / ln 2 = 86.5617 and PD = 1 / (1 + 9 * 2 ** ((score - 500) / 60))):

STRONG  0.98→150, 0 late→110, 0 dpd→100, 0 neg→140, 0 prot→80, 0.25→90, 1 inq→45,
        96 months→60, 3 contracts→50: 825 + 150 = 975. Lost: R07 15, R08 10.
        PD = 1 / (1 + 9 * 2 ** (475 / 60)) = 1 / 2176.1 = 0.0005
WEAK    0.72→40, 2 late→30, 45 dpd→40, 1 neg→50, 0 prot→80, 0.85→20, 4 inq→20,
        20 months→25, 7 contracts→25: 330 + 150 = 480. Lost: R01 110, R04 90, R02 80,
        R06 70, R03 60, R08 45, R07 40, R09 25 → the first four.
        PD = 1 / (1 + 9 * 2 ** (-20 / 60)) = 1 / 8.1433 = 0.1228
WORST   every characteristic in its worst bin: 0 + 150 = 150. Lost: R01 150, R04 140,
        R02 110, R03 100, … → R01, R04, R02, R03.
        PD = 1 / (1 + 9 * 2 ** (-350 / 60)) = 1 / 1.15785 = 0.8637
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.scorecard import (
    SCORECARD_DIR,
    Band,
    InvalidScorecard,
    Risk,
    available_versions,
    band_for,
    load_scorecard,
    parse_scorecard,
)

SCORECARD = load_scorecard("2026.1")


def profile(**values):
    base = {
        "on_time_payment_ratio": Decimal("0.98"),
        "delinquencies_30d_12m": 0,
        "max_days_past_due_12m": 0,
        "active_negative_records": 0,
        "protests": 0,
        "credit_utilization": Decimal("0.25"),
        "hard_inquiries_90d": 1,
        "credit_history_months": 96,
        "active_credit_contracts": 3,
    }
    return {**base, **values}


STRONG = profile()
WEAK = profile(
    on_time_payment_ratio=Decimal("0.72"),
    delinquencies_30d_12m=2,
    max_days_past_due_12m=45,
    active_negative_records=1,
    credit_utilization=Decimal("0.85"),
    hard_inquiries_90d=4,
    credit_history_months=20,
    active_credit_contracts=7,
)
WORST = profile(
    on_time_payment_ratio=Decimal("0.10"),
    delinquencies_30d_12m=9,
    max_days_past_due_12m=200,
    active_negative_records=5,
    protests=3,
    credit_utilization=Decimal("1.20"),
    hard_inquiries_90d=9,
    credit_history_months=2,
    active_credit_contracts=15,
)


@pytest.mark.parametrize(
    ("values", "score", "band", "pd", "reasons"),
    [
        pytest.param(STRONG, 975, Band.EXCELLENT, "0.0005", ("R07", "R08"), id="strong"),
        pytest.param(WEAK, 480, Band.FAIR, "0.1228", ("R01", "R04", "R02", "R06"), id="weak"),
        pytest.param(WORST, 150, Band.LOW, "0.8637", ("R01", "R04", "R02", "R03"), id="worst"),
    ],
)
def test_if_a_profile_is_scored_then_the_result_matches_the_hand_computation(
    values, score, band, pd, reasons
):
    result = SCORECARD.score(values)

    assert result.score == score
    assert result.band is band
    assert result.probability_of_default == Decimal(pd)
    assert result.reason_codes == reasons


def test_if_losses_tie_then_reasons_are_ordered_by_code():
    # R07 loses 15; R08 (96 months) and R09 (2 contracts) both lose 10.
    result = SCORECARD.score(profile(active_credit_contracts=2))

    assert result.reason_codes == ("R07", "R08", "R09")


def test_if_nothing_is_lost_then_there_are_no_reasons():
    best = profile(hard_inquiries_90d=0, credit_history_months=240)

    result = SCORECARD.score(best)

    assert result.score == 1000
    assert result.reason_codes == ()


@pytest.mark.parametrize(
    ("values", "points"),
    [
        pytest.param(
            profile(on_time_payment_ratio=Decimal("0.97")), 150, id="lower-bound-inclusive"
        ),
        pytest.param(
            profile(on_time_payment_ratio=Decimal("0.9699")), 120, id="upper-bound-exclusive"
        ),
        pytest.param(profile(on_time_payment_ratio=Decimal("1")), 150, id="ratio-one"),
        pytest.param(profile(on_time_payment_ratio=Decimal("0")), 0, id="ratio-zero"),
    ],
)
def test_if_a_value_sits_on_a_bin_edge_then_bins_are_half_open(values, points):
    characteristic = SCORECARD.characteristics[0]

    assert characteristic.points_for(values["on_time_payment_ratio"]) == points


@pytest.mark.parametrize(
    ("score", "band"),
    [
        pytest.param(0, Band.LOW, id="0"),
        pytest.param(300, Band.LOW, id="300"),
        pytest.param(301, Band.FAIR, id="301"),
        pytest.param(500, Band.FAIR, id="500"),
        pytest.param(501, Band.GOOD, id="501"),
        pytest.param(700, Band.GOOD, id="700"),
        pytest.param(701, Band.EXCELLENT, id="701"),
        pytest.param(1000, Band.EXCELLENT, id="1000"),
    ],
)
def test_if_a_score_is_on_a_band_edge_then_the_band_follows_the_spec(score, band):
    assert band_for(score) is band


def test_if_the_score_is_the_anchor_then_pd_is_the_anchor_odds():
    assert SCORECARD.probability_of_default(500) == Decimal("0.1000")  # 9:1 good:bad


def test_if_the_score_rises_by_pdo_points_then_the_odds_double():
    pd_500 = float(SCORECARD.probability_of_default(500))
    pd_560 = float(SCORECARD.probability_of_default(560))

    odds_500 = (1 - pd_500) / pd_500
    odds_560 = (1 - pd_560) / pd_560
    assert odds_560 / odds_500 == pytest.approx(2, rel=0.01)


@given(st.integers(0, 999))
def test_if_the_score_rises_then_pd_never_rises(score):
    assert SCORECARD.probability_of_default(score + 1) <= SCORECARD.probability_of_default(score)


def profiles():
    return st.fixed_dictionaries(
        {
            "on_time_payment_ratio": st.decimals(0, 1, places=4),
            "delinquencies_30d_12m": st.integers(0, 50),
            "max_days_past_due_12m": st.integers(0, 1000),
            "active_negative_records": st.integers(0, 20),
            "protests": st.integers(0, 20),
            "credit_utilization": st.decimals(0, 10, places=4),
            "hard_inquiries_90d": st.integers(0, 50),
            "credit_history_months": st.integers(0, 1200),
            "active_credit_contracts": st.integers(0, 50),
        }
    )


RISK_INCREASING = [c.name for c in SCORECARD.characteristics if c.risk is Risk.INCREASING]
RISK_DECREASING = [c.name for c in SCORECARD.characteristics if c.risk is Risk.DECREASING]


@given(profiles(), st.sampled_from(RISK_INCREASING), st.integers(1, 100))
def test_if_a_risk_increasing_value_grows_then_the_score_never_rises(values, name, step):
    riskier = {**values, name: values[name] + step}

    assert SCORECARD.score(riskier).score <= SCORECARD.score(values).score


@given(profiles(), st.sampled_from(RISK_DECREASING), st.integers(1, 100))
def test_if_a_risk_decreasing_value_grows_then_the_score_never_falls(values, name, step):
    grown = values[name] + (Decimal(step) / 100 if isinstance(values[name], Decimal) else step)
    safer = {**values, name: grown}

    assert SCORECARD.score(safer).score >= SCORECARD.score(values).score


@given(profiles())
def test_if_any_profile_is_scored_then_the_result_is_within_range_and_consistent(values):
    result = SCORECARD.score(values)

    assert 0 <= result.score <= 1000
    assert result.band is band_for(result.score)
    assert 0 <= result.probability_of_default <= 1
    assert len(result.reason_codes) <= 4
    assert result == SCORECARD.score(values)  # deterministic


def test_if_the_scorecard_is_shipped_then_it_scores_exactly_the_profile_characteristics():
    for version in available_versions():
        assert set(load_scorecard(version).characteristic_names) == set(PROFILE_CHARACTERISTICS)


def test_if_a_reason_is_described_then_both_languages_exist():
    assert SCORECARD.reason("R06").description == "High credit utilization"
    assert SCORECARD.reason("R06", "pt-BR").description.startswith("Alta utilização")


def _shipped_document():
    with (SCORECARD_DIR / "2026.1.json").open(encoding="utf-8") as file:
        return json.load(file, parse_float=Decimal, parse_int=Decimal)


def _broken(mutate):
    document = copy.deepcopy(_shipped_document())
    mutate(document)
    return document


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            _broken(lambda d: d["characteristics"][0]["bins"].pop(1)), id="gap-between-bins"
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][1]["bins"][0].update(lower=Decimal(1))),
            id="not-starting-at-zero",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][1]["bins"][-1].update(upper=Decimal(99))),
            id="bounded-last-bin",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][1]["bins"][2].update(points=Decimal(90))),
            id="points-rise-with-risk",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][0]["bins"][0].update(points=Decimal(500))),
            id="points-fall-as-risk-falls",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][2].update(reason_code="R01")),
            id="duplicate-reason-code",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][2]["description"].pop("pt-BR")),
            id="missing-portuguese",
        ),
        pytest.param(_broken(lambda d: d.pop("scaling")), id="no-scaling"),
        pytest.param(
            _broken(lambda d: d["scaling"].update(points_to_double_odds=Decimal(0))),
            id="zero-pdo",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][3].update(risk="sideways")), id="unknown-risk"
        ),
    ],
)
def test_if_a_scorecard_file_is_inconsistent_then_loading_refuses_it(document):
    with pytest.raises(InvalidScorecard):
        parse_scorecard(document)


def test_if_an_unknown_version_is_asked_for_then_loading_refuses_it():
    with pytest.raises(InvalidScorecard):
        load_scorecard("1999.9")


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_broken(lambda d: d.update(scaling=[500, 9, 60])), id="scaling-not-an-object"),
        pytest.param(
            _broken(lambda d: d["characteristics"][0].update(description="Few bills paid")),
            id="description-not-an-object",
        ),
        pytest.param(
            _broken(lambda d: d["characteristics"][0]["bins"][1].update(points="many")),
            id="points-not-a-number",
        ),
    ],
)
def test_if_a_scorecard_file_has_wrong_types_then_loading_refuses_it(document):
    with pytest.raises(InvalidScorecard):
        parse_scorecard(document)


def test_if_a_profile_is_scored_then_each_characteristic_s_bin_is_known_and_round_trips():
    from scores.core.scorecard import bins_from_text, bins_text

    profile = {name: Decimal(0) for name in SCORECARD.characteristic_names}
    profile["credit_history_months"] = Decimal(500)  # past its last bin's lower bound

    result = SCORECARD.score(profile)

    last = len(SCORECARD.characteristics[-2].bins) - 1  # credit_history_months
    assert len(result.bins) == len(SCORECARD.characteristics)
    assert result.bins[-2] == last
    assert all(
        SCORECARD.characteristics[i].bins[index].contains(profile[name])
        for i, (name, index) in enumerate(
            zip(SCORECARD.characteristic_names, result.bins, strict=True)
        )
    )
    assert bins_from_text(bins_text(result.bins)) == result.bins
    assert bins_from_text("") == ()
    assert bins_from_text("1,x") == ()
