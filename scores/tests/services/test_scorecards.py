"""Scorecard versions governed with four eyes: upload validated by the engine's rules,
stored versions immutable, proposal with its impact, decisions by a second person only,
activation carried in the cache's generation item, rollback, every step recorded.

The impact's golden population, 2026.1 (current) against 2026.2 (proposed), by hand
(bins from scores/scorecards/*.json; PD = 1 / (1 + 9 * 2 ** ((score - 500) / 60)) for both):

STRONG    2026.1: 975 (docs of test_scorecard.py); 2026.2: 130 + 170 + 90 + 140 + 80 + 90
          + 45 + 60 + 50 = 855 + 120 = 975. Excellent → excellent. First reason R07 (15
          lost) in both. PD 0.0005 both.
WEAK      2026.1: 480; 2026.2: 35 + 25 + 30 + 50 + 80 + 20 + 20 + 25 + 25 = 310 + 120 = 430.
          Fair → fair. First reason R01 (110 lost) → R02 (170 - 25 = 145 lost).
          PD 0.1228 → 1 / (1 + 9 * 2 ** (-70/60)) = 1 / 5.0089 = 0.1996.
WORST     every characteristic in its worst bin: 150 → 120. Low → low. R01 (150) → R02
          (170). PD 0.8637 → 1 / (1 + 9 * 2 ** (-380/60)) = 1 / 1.11162 = 0.8996.
CROSSING  0.85, 1 late, 20 dpd, 0 neg, 0 prot, 0.60, 2 inq, 30 months, 2 contracts.
          2026.1: 80 + 60 + 65 + 140 + 80 + 45 + 45 + 25 + 40 = 580 + 150 = 730 (excellent);
          2026.2: 70 + 70 + 55 + 140 + 80 + 45 + 45 + 25 + 40 = 570 + 120 = 690 (good).
          R01 (150 - 80 = 70 lost) → R02 (170 - 70 = 100 lost).
          PD 1 / (1 + 9 * 2 ** (230/60)) = 1 / 129.29 = 0.0077 → 1 / 81.817 = 0.0122.

Every profile: mean score (975 + 480 + 150 + 730) / 4 = 583.75 → (975 + 430 + 120 + 690) / 4
= 553.75; mean PD (0.0005 + 0.1228 + 0.8637 + 0.0077) / 4 = 0.2487 → (0.0005 + 0.1996 +
0.8996 + 0.0122) / 4 = 0.2780; first reason changes for 3 of 4; bands: low→low, fair→fair,
excellent→excellent, excellent→good.
Consulted in the last 30 days (WEAK and CROSSING; STRONG 40 days ago): mean score 605 →
560, bands fair→fair and excellent→good, first reason changes for both.
"""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.staff import StaffRole
from scores.cache import score_cache
from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.cpf import Cpf
from scores.core.scorecard import SCORECARD_DIR, band_for, load_scorecard
from scores.exceptions import (
    ScorecardDecisionRefused,
    ScorecardNotProposable,
    ScorecardRefused,
    ScorecardRollbackRefused,
)
from scores.impact import BANDS, impact_compute, impact_summary
from scores.models import CreditProfile, ScorecardEvent, ScorecardProposal, StoredScorecard
from scores.selectors import scorecard_active_version, scorecard_get
from scores.services import score_get
from scores.services.scorecards import (
    scorecard_approve,
    scorecard_propose,
    scorecard_refuse,
    scorecard_rollback,
    scorecard_upload,
)
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

CURRENT, PROPOSED = load_scorecard("2026.1"), load_scorecard("2026.2")

STRONG = {
    "on_time_payment_ratio": "0.98",
    "delinquencies_30d_12m": 0,
    "max_days_past_due_12m": 0,
    "active_negative_records": 0,
    "protests": 0,
    "credit_utilization": "0.25",
    "hard_inquiries_90d": 1,
    "credit_history_months": 96,
    "active_credit_contracts": 3,
}
WEAK = {
    **STRONG,
    "on_time_payment_ratio": "0.72",
    "delinquencies_30d_12m": 2,
    "max_days_past_due_12m": 45,
    "active_negative_records": 1,
    "credit_utilization": "0.85",
    "hard_inquiries_90d": 4,
    "credit_history_months": 20,
    "active_credit_contracts": 7,
}
WORST = {
    "on_time_payment_ratio": "0.40",
    "delinquencies_30d_12m": 5,
    "max_days_past_due_12m": 120,
    "active_negative_records": 4,
    "protests": 3,
    "credit_utilization": "0.95",
    "hard_inquiries_90d": 9,
    "credit_history_months": 6,
    "active_credit_contracts": 15,
}
CROSSING = {
    "on_time_payment_ratio": "0.85",
    "delinquencies_30d_12m": 1,
    "max_days_past_due_12m": 20,
    "active_negative_records": 0,
    "protests": 0,
    "credit_utilization": "0.60",
    "hard_inquiries_90d": 2,
    "credit_history_months": 30,
    "active_credit_contracts": 2,
}


def cpf_number(n: int) -> str:
    return Cpf.from_base(f"{100_000_000 + n:09d}").formatted


def shipped_document(version: str = "2026.2") -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCORECARD_DIR / f"{version}.json").read_text("utf-8"))
    return document


def as_file(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")


@pytest.fixture
def operator(staff_member):
    return staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)


@pytest.fixture
def approver(staff_member):
    return staff_member("vera", role=StaffRole.MODEL_APPROVERS)


@pytest.fixture
def propose(django_capture_on_commit_callbacks):
    """scorecard_propose, its impact task run when its transaction commits (as in
    production: inline off Lambda)."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return scorecard_propose(**kwargs)

    return run


@pytest.fixture
def golden(make_profile, record):
    now = timezone.now()
    for n, values in enumerate([STRONG, WEAK, WORST, CROSSING]):
        make_profile(cpf_number(n), **values)
    record(cpf_number(0), at=now - timedelta(days=40))
    record(cpf_number(1), at=now - timedelta(days=3))
    record(cpf_number(3), at=now - timedelta(days=29))


# ---------------------------------------------------------------------------------------
# Upload
# ---------------------------------------------------------------------------------------
def test_if_an_uploaded_file_breaks_several_rules_then_every_violation_is_named_by_path(operator):
    document = shipped_document()
    document["version"] = "2027.1"
    document["characteristics"][1]["bins"][2]["points"] = 90  # rises with risk
    document["characteristics"][0]["bins"].pop(2)  # a gap
    document["characteristics"][4]["description"].pop("pt-BR")
    document["scaling"]["points_to_double_odds"] = 0

    with pytest.raises(ScorecardRefused) as refused:
        scorecard_upload(actor=operator, file_name="bad.json", content=as_file(document))

    assert [(v.path, v.code) for v in refused.value.violations] == [
        ("scaling.points_to_double_odds", "not_positive"),
        ("characteristics[0].bins[2].lower", "not_contiguous"),
        ("characteristics[1].bins[2].points", "points_rise_with_risk"),
        ("characteristics[4].description", "missing_language"),
    ]
    assert not StoredScorecard.objects.exists()
    assert not ScorecardEvent.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"\xff\xfe", [("", "not_utf8")], id="not-utf8"),
        pytest.param(b"{", [("", "not_json")], id="not-json"),
        pytest.param(b"[1]", [("", "not_object")], id="a-list"),
        pytest.param(b"[" * 100_000, [("", "not_json")], id="deeply-nested"),
        pytest.param(
            as_file(shipped_document("2026.1")), [("version", "version_exists")], id="shipped"
        ),
        pytest.param(
            as_file({**shipped_document(), "version": "next"}),
            [("version", "version_format")],
            id="version-format",
        ),
    ],
)
def test_if_an_uploaded_file_is_not_a_new_scorecard_then_it_is_refused(operator, content, expected):
    with pytest.raises(ScorecardRefused) as refused:
        scorecard_upload(actor=operator, file_name="x.json", content=content)

    assert [(v.path, v.code) for v in refused.value.violations] == expected


def test_if_a_scorecard_scores_another_characteristic_then_it_is_refused(operator):
    document = {**shipped_document(), "version": "2027.1"}
    document["characteristics"][8]["name"] = "income"

    with pytest.raises(ScorecardRefused) as refused:
        scorecard_upload(actor=operator, file_name="x.json", content=as_file(document))

    assert [(v.path, v.code, v.detail) for v in refused.value.violations] == [
        ("characteristics[8].name", "unknown_characteristic", "income"),
        ("characteristics", "missing_characteristic", "active_credit_contracts"),
    ]


def test_if_a_version_is_uploaded_then_it_is_stored_recorded_and_never_changed(operator):
    document = {**shipped_document(), "version": "2027.1"}

    stored = scorecard_upload(actor=operator, file_name="v.json", content=as_file(document))

    assert scorecard_get("2027.1").characteristic_names == PROFILE_CHARACTERISTICS
    [event] = ScorecardEvent.objects.all()
    assert (event.action, event.version, event.actor_name) == ("uploaded", "2027.1", "otto")
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
        StoredScorecard.objects.filter(pk=stored.pk).update(document="{}")
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
        ScorecardEvent.objects.all().delete()


def test_if_someone_without_the_operators_permission_uploads_then_it_is_refused(approver):
    with pytest.raises(ScorecardRefused):
        scorecard_upload(
            actor=approver,
            file_name="v.json",
            content=as_file({**shipped_document(), "version": "2027.1"}),
        )


# ---------------------------------------------------------------------------------------
# Impact
# ---------------------------------------------------------------------------------------
def test_if_the_impact_is_computed_then_it_matches_the_hand_computed_population(golden):
    summary = impact_compute(current=CURRENT, proposed=PROPOSED, range_profiles=3)

    every = summary.populations["all"]
    assert every.profiles == 4
    assert (every.mean_score_current, every.mean_score_proposed) == (
        Decimal("583.75"),
        Decimal("553.75"),
    )
    assert (every.mean_pd_current, every.mean_pd_proposed) == (Decimal("0.2487"), Decimal("0.2780"))
    assert every.reason_changed == 3
    assert every.reason_changed_share == Decimal("0.7500")
    low, fair, good, excellent = range(4)
    expected = [[0] * 4 for _ in range(4)]
    expected[low][low] = expected[fair][fair] = expected[excellent][excellent] = 1
    expected[excellent][good] = 1
    assert [list(row) for row in every.matrix] == expected
    assert every.matrix_shares[excellent][good] == Decimal("0.2500")
    assert every.moved == 1
    # 150 and 120 in 100-149/150-199's buckets, 480 and 430 in 450-499 and 400-449, ...
    current = {i: n for i, n in enumerate(every.histogram_current) if n}
    proposed = {i: n for i, n in enumerate(every.histogram_proposed) if n}
    assert (current, proposed) == ({3: 1, 9: 1, 14: 1, 19: 1}, {2: 1, 8: 1, 13: 1, 19: 1})

    recent = summary.populations["recent"]
    assert recent.profiles == 2
    assert (recent.mean_score_current, recent.mean_score_proposed) == (
        Decimal("605.00"),
        Decimal("560.00"),
    )
    assert recent.reason_changed == 2
    assert recent.matrix[fair][fair] == recent.matrix[excellent][good] == 1


def test_if_profiles_are_random_then_the_database_scores_them_as_the_engine_does(make_profile):
    generator = random.Random(21)
    profiles = []
    for n in range(150):
        values = {
            "on_time_payment_ratio": f"{generator.choice([0, 0.6, 0.79, 0.8, 0.97, 1]):.4f}",
            "delinquencies_30d_12m": generator.randint(0, 4),
            "max_days_past_due_12m": generator.choice([0, 1, 15, 16, 30, 31, 60, 61, 90, 91]),
            "active_negative_records": generator.randint(0, 4),
            "protests": generator.randint(0, 3),
            "credit_utilization": f"{generator.choice([0, 0.3, 0.49, 0.7, 0.9, 2]):.4f}",
            "hard_inquiries_90d": generator.randint(0, 6),
            "credit_history_months": generator.choice([0, 11, 12, 36, 72, 119, 120, 400]),
            "active_credit_contracts": generator.randint(0, 12),
        }
        profiles.append(make_profile(cpf_number(n), **values))
    counts = {"current": [0] * 1001, "proposed": [0] * 1001}
    changed = 0
    matrix = [[0] * 4 for _ in range(4)]
    for profile in CreditProfile.objects.all():
        a = CURRENT.score(profile.characteristics())
        b = PROPOSED.score(profile.characteristics())
        counts["current"][a.score] += 1
        counts["proposed"][b.score] += 1
        changed += a.reason_codes[:1] != b.reason_codes[:1]
        matrix[BANDS.index(band_for(a.score))][BANDS.index(band_for(b.score))] += 1

    summary = impact_compute(current=CURRENT, proposed=PROPOSED, range_profiles=40)

    every = summary.populations["all"]
    expected = impact_summary(
        current=CURRENT,
        proposed=PROPOSED,
        tallies={
            population: {
                "current": counts["current"],
                "proposed": counts["proposed"],
                "matrix": matrix,
                "reason_changed": changed,
            }
            for population in ("all", "recent")
        },
    ).populations["all"]
    assert every == expected


# ---------------------------------------------------------------------------------------
# Proposal, decision, activation, rollback
# ---------------------------------------------------------------------------------------
def test_if_a_version_is_proposed_then_its_impact_is_computed_and_recorded(
    propose, golden, operator
):
    proposal = propose(version="2026.2", actor=operator, reason="recent delinquencies")

    proposal.refresh_from_db()
    assert proposal.impact_status == ScorecardProposal.ImpactStatus.COMPUTED
    assert proposal.baseline_version == "2026.1"
    assert sum(proposal.impact["all"]["current"]) == 4
    assert list(ScorecardEvent.objects.order_by("id").values_list("action", "actor_name")) == [
        ("proposed", "otto"),
        ("impact_computed", "task"),
    ]


@pytest.mark.parametrize(
    ("version", "message"),
    [
        pytest.param("2026.1", "already active", id="the-active-one"),
        pytest.param("2099.1", "no scorecard version", id="unknown"),
    ],
)
def test_if_a_version_cannot_be_proposed_then_nothing_is_recorded(
    propose, operator, version, message
):
    with pytest.raises(ScorecardNotProposable, match=message):
        propose(version=version, actor=operator)

    assert not ScorecardProposal.objects.exists()


def test_if_the_proposer_approves_their_own_proposal_then_it_is_refused(
    propose, staff_member, golden
):
    both = staff_member("ana", role=StaffRole.CREDIT_DATA_OPERATORS)
    both.groups.add(*type(both.groups.first()).objects.filter(name=StaffRole.MODEL_APPROVERS))
    proposal = propose(version="2026.2", actor=both)

    with pytest.raises(ScorecardDecisionRefused, match="own proposal"):
        scorecard_approve(proposal_id=proposal.pk, actor=both)

    assert scorecard_active_version() == "2026.1"


def test_if_an_operator_without_the_approver_permission_approves_then_it_is_refused(
    propose, staff_member, operator, golden
):
    proposal = propose(version="2026.2", actor=operator)

    with pytest.raises(ScorecardDecisionRefused, match="model approver"):
        scorecard_approve(
            proposal_id=proposal.pk,
            actor=staff_member("olga", role=StaffRole.CREDIT_DATA_OPERATORS),
        )


def test_if_a_proposal_is_approved_then_every_request_serves_the_version_without_a_round_trip(
    propose, golden, operator, approver, make_profile, dynamodb_calls, django_assert_num_queries
):
    make_profile()
    before = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    proposal = propose(version="2026.2", actor=operator)

    scorecard_approve(proposal_id=proposal.pk, actor=approver, reason="validated")

    dynamodb_calls.clear()
    with django_assert_num_queries(1):  # the profile: the old version's item is a miss
        after = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    assert (before.model_version, after.model_version) == ("2026.1", "2026.2")
    assert after.source == "computed"
    assert dynamodb_calls == ["BatchGetItem", "PutItem"]
    with django_assert_num_queries(0):
        again = score_get(cpf=Cpf.parse(EXAMPLE_CPF))
    assert (again.model_version, again.source) == ("2026.2", "cache")
    assert scorecard_active_version() == "2026.2"
    actions = ScorecardEvent.objects.order_by("id").values_list("action", "actor_name", "reason")
    assert list(actions)[2:] == [
        ("approved", "vera", "validated"),
        ("activated", "vera", "validated"),
    ]


def test_if_a_proposal_is_refused_then_a_reason_is_required_and_nothing_changes(
    propose, golden, operator, approver
):
    proposal = propose(version="2026.2", actor=operator)
    with pytest.raises(ScorecardDecisionRefused, match="reason"):
        scorecard_refuse(proposal_id=proposal.pk, actor=approver, reason=" ")

    scorecard_refuse(proposal_id=proposal.pk, actor=approver, reason="PD too high")

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decision_reason) == ("refused", "PD too high")
    assert scorecard_active_version() == "2026.1"
    with pytest.raises(ScorecardDecisionRefused, match="already decided"):
        scorecard_approve(proposal_id=proposal.pk, actor=approver)


def test_if_an_approver_rolls_back_then_the_previous_version_is_served_and_recorded(
    propose, golden, operator, approver, make_profile
):
    make_profile()
    proposal = propose(version="2026.2", actor=operator)
    scorecard_approve(proposal_id=proposal.pk, actor=approver)
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).model_version == "2026.2"

    with pytest.raises(ScorecardRollbackRefused):
        scorecard_rollback(actor=operator, reason="bad")
    version = scorecard_rollback(actor=approver, reason="complaints")

    assert version == "2026.1"
    assert score_get(cpf=Cpf.parse(EXAMPLE_CPF)).model_version == "2026.1"
    event = ScorecardEvent.objects.order_by("-id")[0]
    assert (event.action, event.version, event.previous_version, event.reason) == (
        "rolled_back",
        "2026.1",
        "2026.2",
        "complaints",
    )


def test_if_nothing_was_activated_then_a_rollback_is_refused(approver):
    with pytest.raises(ScorecardRollbackRefused):
        scorecard_rollback(actor=approver, reason="why not")


def test_if_an_uploaded_version_is_approved_then_it_is_served(propose, golden, operator, approver):
    document = {**shipped_document(), "version": "2027.7"}
    scorecard_upload(actor=operator, file_name="v.json", content=as_file(document))
    proposal = propose(version="2027.7", actor=operator)

    scorecard_approve(proposal_id=proposal.pk, actor=approver)

    served = score_get(cpf=Cpf.parse(cpf_number(1)))
    assert (served.model_version, served.score) == ("2027.7", 430)


def test_if_the_cache_cannot_be_read_then_the_recorded_version_is_served(
    propose, golden, operator, approver, settings
):
    proposal = propose(version="2026.2", actor=operator)
    scorecard_approve(proposal_id=proposal.pk, actor=approver)
    score_cache.cool_down.start(60)

    served = score_get(cpf=Cpf.parse(cpf_number(1)))

    assert (served.model_version, served.source) == ("2026.2", "computed")


def test_if_the_table_is_created_anew_then_ensure_score_table_names_the_recorded_version(
    propose, golden, operator, approver, dynamodb, settings
):
    from django.core.management import call_command

    proposal = propose(version="2026.2", actor=operator)
    scorecard_approve(proposal_id=proposal.pk, actor=approver)
    dynamodb.delete_item(TableName=settings.SCORE_CACHE_TABLE, Key={"pk": {"S": "__generation__"}})
    assert score_get(cpf=Cpf.parse(cpf_number(1))).model_version == "2026.1"  # the default

    call_command("ensure_score_table", "--active-scorecard", stdout=io.StringIO())

    assert score_get(cpf=Cpf.parse(cpf_number(1))).model_version == "2026.2"


# ---------------------------------------------------------------------------------------
# Impact: a step that dies, resumed
# ---------------------------------------------------------------------------------------
class StepDied(Exception):
    """What the Lambda invocation running a step would never say: it is killed."""


def test_if_an_impact_step_dies_mid_way_then_resuming_it_gives_the_uninterrupted_numbers(
    make_profile, record, operator, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.test import Client
    from django.urls import reverse

    from conftest import sign_in
    from scores import impact as impact_module
    from scores.exceptions import ImpactNotResumable
    from scores.services import scorecards as scorecards_service
    from scores.services.scorecards import scorecard_impact_advance, scorecard_impact_resume

    generator = random.Random(4)
    for n in range(23):
        make_profile(
            cpf_number(n),
            on_time_payment_ratio=f"{generator.choice([0, 0.79, 0.97, 1]):.4f}",
            delinquencies_30d_12m=generator.randint(0, 4),
            credit_history_months=generator.choice([0, 36, 400]),
        )
        if n % 3 == 0:
            record(cpf_number(n), at=timezone.now() - timedelta(days=n))
    uninterrupted = impact_compute(current=CURRENT, proposed=PROPOSED, range_profiles=1000)
    settings.SCORECARD_IMPACT_RANGE_PROFILES = 4  # six ranges
    settings.SCORECARD_IMPACT_STEP_SECONDS = 0  # a range a step
    with django_capture_on_commit_callbacks(execute=False):  # its task not started
        proposal = scorecard_propose(version="2026.2", actor=operator)
    assert scorecard_impact_advance(proposal_id=proposal.pk)
    assert scorecard_impact_advance(proposal_id=proposal.pk)
    proposal.refresh_from_db()
    saved = (proposal.impact_cursor, sum(proposal.impact["all"]["current"]))
    assert saved[1] == 8

    # The next step scores two more ranges and its invocation dies before saving them.
    settings.SCORECARD_IMPACT_STEP_SECONDS = 60
    real_tally_range = impact_module.tally_range
    ranges: list[str] = []

    def dies_after_two_ranges(**kwargs):
        if len(ranges) == 2:
            raise StepDied()
        ranges.append(kwargs["after"])
        return real_tally_range(**kwargs)

    monkeypatch.setattr(scorecards_service, "tally_range", dies_after_two_ranges)
    with pytest.raises(StepDied):
        scorecard_impact_advance(proposal_id=proposal.pk)
    monkeypatch.setattr(scorecards_service, "tally_range", real_tally_range)
    proposal.refresh_from_db()
    assert (proposal.impact_cursor, sum(proposal.impact["all"]["current"])) == saved
    assert not proposal.impact_stalled  # not yet: it might still be running
    with pytest.raises(ImpactNotResumable):
        scorecard_impact_resume(proposal_id=proposal.pk)

    client = sign_in(Client(), operator)
    page = reverse("admin:scores_scorecardversion_proposal", args=[proposal.pk])
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert 'id="impact-resume-form"' in client.get(page).content.decode()
        with django_capture_on_commit_callbacks(execute=True):  # the task, inline off Lambda
            answer = client.post(
                reverse("admin:scores_scorecardversion_resume", args=[proposal.pk])
            )

    assert answer.status_code == 302
    proposal.refresh_from_db()
    assert proposal.impact_status == ScorecardProposal.ImpactStatus.COMPUTED
    assert impact_summary(current=CURRENT, proposed=PROPOSED, tallies=proposal.impact) == (
        uninterrupted
    )
    assert 'id="impact-resume-form"' not in client.get(page).content.decode()
