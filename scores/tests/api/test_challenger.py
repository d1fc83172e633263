"""The challenger in shadow: scored beside the active scorecard on its share of the computed
scores, recorded for comparison, never in a response nor in the cached item; the cached
path keeps its round trips."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from conftest import sign_in
from scores.models import ShadowScore
from scores.selectors import challenger_comparison
from scores.services.scorecards import scorecard_challenger_set
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

URL = "/api/v1/scores"
CHALLENGER_PAGE = reverse("admin:scores_scorecardversion_challenger")
# The published example's good profile with one late payment: 2026.1 gives 925, 2026.2 875.
ONE_LATE = {"delinquencies_30d_12m": 1}


def post(client, cpf=EXAMPLE_CPF):
    return client.generic("POST", URL, json.dumps({"cpf": cpf}), content_type="application/json")


@pytest.fixture
def approver(staff_member):
    return staff_member("vera", role=StaffRole.MODEL_APPROVERS)


def test_if_a_challenger_runs_on_every_request_then_it_is_recorded_and_never_answered_or_cached(
    client_with_key, api_key, make_profile, approver, dynamodb, settings
):
    profile = make_profile(**ONE_LATE)
    scorecard_challenger_set(actor=approver, version="2026.2", share=100)

    answer = post(client_with_key).json()

    assert (answer["score"], answer["model_version"]) == (925, "2026.1")
    assert "2026.2" not in json.dumps(answer)
    assert "875" not in json.dumps(answer)
    item = dynamodb.get_item(
        TableName=settings.SCORE_CACHE_TABLE, Key={"pk": {"S": profile.cpf_hash}}
    )["Item"]
    assert (item["score"], item["model_version"]) == ({"N": "925"}, {"S": "2026.1"})
    assert "2026.2" not in json.dumps(item)
    shadow = ShadowScore.objects.get()
    assert (shadow.champion_score, shadow.challenger_score, shadow.challenger_version) == (
        925,
        875,
        "2026.2",
    )
    assert shadow.organization_id == api_key[0].organization_id
    assert shadow.challenger_reason_codes == ["R02", "R07", "R08"]


def test_if_a_challenger_is_set_then_the_cached_path_keeps_its_round_trips(
    client_with_key, make_profile, approver, django_assert_num_queries, dynamodb_calls
):
    make_profile(**ONE_LATE)
    scorecard_challenger_set(actor=approver, version="2026.2", share=100)
    post(client_with_key)  # computes (one shadow score), caches; the key is now warm
    dynamodb_calls.clear()

    with django_assert_num_queries(1):  # the audit INSERT only
        response = post(client_with_key)

    assert response.json()["source"] == "cache"
    assert sorted(dynamodb_calls) == ["BatchGetItem", "UpdateItem"]
    assert ShadowScore.objects.count() == 1  # a cached score has no profile: no shadow


def test_if_the_share_is_zero_or_the_challenger_removed_then_nothing_is_scored_in_shadow(
    client_with_key, make_profile, approver
):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    scorecard_challenger_set(actor=approver, version="2026.2", share=0)
    post(client_with_key, EXAMPLE_CPF)
    scorecard_challenger_set(actor=approver, version=None, share=0)
    post(client_with_key, OTHER_EXAMPLE_CPF)

    assert not ShadowScore.objects.exists()


def test_if_shadow_scores_are_compared_then_agreement_difference_and_matrix_are_summed(
    make_profile, client_with_key, approver, staff_member
):
    make_profile(EXAMPLE_CPF, **ONE_LATE)  # 925 -> 875, excellent both
    make_profile(  # 730 -> 690: excellent -> good (test_scorecards.py's CROSSING)
        OTHER_EXAMPLE_CPF,
        on_time_payment_ratio="0.85",
        delinquencies_30d_12m=1,
        max_days_past_due_12m=20,
        credit_utilization="0.60",
        hard_inquiries_90d=2,
        credit_history_months=30,
        active_credit_contracts=2,
    )
    scorecard_challenger_set(actor=approver, version="2026.2", share=100)
    post(client_with_key, EXAMPLE_CPF)
    post(client_with_key, OTHER_EXAMPLE_CPF)

    comparison = challenger_comparison(champion_version="2026.1", challenger_version="2026.2")

    assert (comparison.requests, comparison.same_band, comparison.mean_difference) == (2, 1, -45)
    assert comparison.matrix[3] == [0, 0, 1, 1]
    [(_name, count, same, difference)] = comparison.organizations
    assert (count, same, difference) == (2, 1, -45)
    page = sign_in(Client(), approver).get(CHALLENGER_PAGE).content.decode()
    assert "50,0 %" in page
    assert "-45,0" in page


def test_if_an_approver_sets_the_challenger_in_the_admin_then_it_is_recorded_and_others_may_not(
    approver, staff_member
):
    client = sign_in(Client(), approver)

    page = client.post(
        CHALLENGER_PAGE, {"version": "2026.2", "share": "25", "reason": "piloto"}, follow=True
    ).content.decode()

    assert "Desafiante 2026.2 em 25 % dos scores calculados" in page
    operator = sign_in(Client(), staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS))
    assert operator.get(CHALLENGER_PAGE).status_code == 200
    assert operator.post(CHALLENGER_PAGE, {"version": "", "share": "0"}).status_code == 403


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"version": "2026.2", "share": "101"}, id="share-over-100"),
        pytest.param({"version": "2026.2", "share": "x"}, id="share-not-a-number"),
        pytest.param({"version": "1999.1", "share": "5"}, id="unknown-version"),
        pytest.param({"version": "2026.1", "share": "5"}, id="the-active-one"),
    ],
)
def test_if_the_challenger_form_is_wrong_then_nothing_changes_never_500(approver, data):
    response = sign_in(Client(), approver).post(CHALLENGER_PAGE, data)

    assert response.status_code == 200
    assert not ShadowScore.objects.exists()
