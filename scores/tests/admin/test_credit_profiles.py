"""The credit data operators' other pages (issue 14): the profiles list (columns, filters,
CPF search), a profile's score and reasons, the scorecards, and the cache control."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from conftest import admin_search, sign_in
from scoreportal.language import STAFF_LANGUAGE_SESSION_KEY
from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.core.scorecard import available_versions
from scores.models import CreditProfile
from scores.selectors import active_scorecard
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

PROFILES = reverse("admin:scores_creditprofile_changelist")
SCORECARDS = reverse("admin:scores_scorecardversion_changelist")
INVALIDATE_ALL = reverse("admin:scores_creditprofile_invalidate_all")
WEAK = {
    "on_time_payment_ratio": "0.7200",
    "delinquencies_30d_12m": 2,
    "max_days_past_due_12m": 45,
    "active_negative_records": 1,
    "credit_utilization": "0.8500",
    "hard_inquiries_90d": 4,
    "credit_history_months": 20,
    "active_credit_contracts": 7,
}


@pytest.fixture
def operator_client(staff_member):
    return sign_in(Client(), staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS))


@pytest.fixture
def two_profiles(make_profile):
    return make_profile(EXAMPLE_CPF), make_profile(OTHER_EXAMPLE_CPF, **WEAK)


@pytest.fixture
def cached(two_profiles, client_with_key, settings):
    """Both profiles' scores in the cache, served by the API; returns a reader of it."""
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        client_with_key.post("/api/v1/scores", {"cpf": cpf}, format="json")

    def read(profile):
        return score_cache.get(profile.cpf_hash, model_version=active_scorecard().version)

    assert all(read(profile) is not None for profile in two_profiles)
    return read


def change_page(profile):
    return reverse("admin:scores_creditprofile_change", args=[quote(profile.pk)])


def test_if_an_operator_lists_profiles_then_the_filtered_characteristics_and_time_show(
    operator_client, two_profiles
):
    page = operator_client.get(PROFILES).content.decode()

    for column in (
        "on_time_payment_ratio",
        "delinquencies_30d_12m",
        "active_negative_records",
        "protests",
        "credit_utilization",
        "updated_at",
    ):
        assert f"column-{column}" in page
    # On the profile's page: the list fits 1366 px with the sidebar and the filters open.
    for column in ("max_days_past_due_12m", "hard_inquiries_90d", "version"):
        assert f"column-{column}" not in page
    assert "***.982.247-**" in page
    assert 'id="invalidate-all-link"' in page
    assert 'id="import-profiles-link"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"negative_records": "yes"}, ["***.444.777-**"], id="negative-records"),
        pytest.param({"negative_records": "no"}, ["***.982.247-**"], id="no-negative-records"),
        pytest.param({"delinquent": "yes"}, ["***.444.777-**"], id="delinquent"),
        pytest.param({"high_utilization": "yes"}, ["***.444.777-**"], id="high-utilization"),
        pytest.param({"protests": "yes"}, [], id="protests"),
        pytest.param({"q": "52998224725"}, ["***.982.247-**"], id="cpf-digits"),
        pytest.param({"q": " 111.444.777-35 "}, ["***.444.777-**"], id="cpf-formatted"),
        pytest.param({"q": "111.444.777"}, [], id="partial-cpf"),
    ],
)
def test_if_an_operator_filters_or_searches_profiles_then_only_matches_show(
    operator_client, two_profiles, query, expected
):
    if "q" in query:
        response = admin_search(operator_client, PROFILES, query["q"])
    else:
        response = operator_client.get(PROFILES, query)

    assert response.status_code == 200
    shown = [profile.cpf_masked for profile in response.context["cl"].result_list]
    assert shown == expected


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        pytest.param("pt-br", "Negativações ativas", id="pt-br"),
        pytest.param("en", "Active negative records", id="en"),
    ],
)
def test_if_an_operator_opens_a_profile_then_its_score_band_and_reasons_show_in_their_language(
    operator_client, two_profiles, dynamodb_calls, language, reason
):
    weak = CreditProfile.objects.get(pk=two_profiles[1].pk)  # values typed by the database
    expected = active_scorecard().score(weak.characteristics())

    session = operator_client.session
    session[STAFF_LANGUAGE_SESSION_KEY] = language
    session.save()

    page = operator_client.get(change_page(weak)).content.decode()

    assert 'id="profile-score"' in page
    assert f'<strong class="profile-score-value">{expected.score}</strong>' in page
    assert f"score-band-{expected.band.value}" in page
    assert expected.reason_codes
    assert all(code in page for code in expected.reason_codes)
    assert reason in page
    assert dynamodb_calls == []  # computed for the page: the cache is neither read nor written
    assert not CreditProfile.objects.filter(pk=weak.pk, version__gt=1).exists()


def test_if_an_operator_opens_the_scorecards_then_each_shows_its_bins_reasons_and_the_active_one(
    operator_client,
):
    page = operator_client.get(SCORECARDS).content.decode()

    scorecard = active_scorecard()
    for version in available_versions():
        assert f'id="scorecard-{version}"' in page
    assert 'class="scorecard-active"' in page
    for characteristic in scorecard.characteristics:
        assert characteristic.reason_code in page
        assert characteristic.descriptions["en"] in page
        assert characteristic.descriptions["pt-BR"] in page
    assert "→ <strong>150</strong>" in page  # on-time payments' best bin


def test_if_an_operator_invalidates_selected_profiles_then_only_theirs_become_misses(
    operator_client, two_profiles, cached
):
    example, weak = two_profiles

    response = operator_client.post(
        PROFILES,
        {"action": "invalidate_cached_scores", "_selected_action": [example.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert cached(example) is None
    assert cached(weak) is not None
    assert "O score em cache de 1 perfil foi invalidado." in response.content.decode()


def test_if_an_operator_confirms_invalidating_all_then_every_cached_score_is_a_miss(
    operator_client, two_profiles, cached
):
    confirmation = operator_client.get(INVALIDATE_ALL)
    assert confirmation.status_code == 200
    assert 'id="invalidate-all-form"' in confirmation.content.decode()
    assert all(cached(profile) is not None for profile in two_profiles)  # a GET changes nothing

    response = operator_client.post(INVALIDATE_ALL, {"confirmed": "yes"})

    assert response.status_code == 302
    assert all(cached(profile) is None for profile in two_profiles)


def test_if_invalidating_all_is_posted_without_confirmation_then_nothing_changes(
    operator_client, two_profiles, cached
):
    operator_client.post(INVALIDATE_ALL, {})

    assert all(cached(profile) is not None for profile in two_profiles)


def test_if_a_score_is_invalidated_then_the_api_computes_it_again(
    operator_client, two_profiles, cached, client_with_key
):
    operator_client.post(INVALIDATE_ALL, {"confirmed": "yes"})

    served = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()

    assert served["source"] == "computed"
    assert cached(two_profiles[0]) is not None
    assert Cpf.parse(EXAMPLE_CPF).masked == served["cpf"]
