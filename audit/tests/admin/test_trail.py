"""Staff screens: the audit browser is read-only; CPF search goes through the hash."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import admin_search
from scores.cache import score_cache
from scores.models import Consultation, CreditProfile
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

CONSULTATIONS = reverse("admin:scores_consultation_changelist")
PROFILES = reverse("admin:scores_creditprofile_changelist")


@pytest.fixture
def consultations(client_with_key, make_profile, score_table):
    """Two queries of the example CPF and one of another, through the real API."""
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    for cpf in (EXAMPLE_CPF, "52998224725", OTHER_EXAMPLE_CPF):
        client_with_key.post("/api/v1/scores", {"cpf": cpf}, format="json")
    return Consultation.objects.all()


def test_if_an_auditor_opens_the_audit_trail_then_rows_are_listed(auditor_client, consultations):
    response = auditor_client.get(CONSULTATIONS)

    assert response.status_code == 200
    assert response.content.decode().count("***.982.247-**") == 2


@pytest.mark.parametrize("term", [EXAMPLE_CPF, "52998224725", " 529.982.247-25 "])
def test_if_the_audit_trail_is_searched_by_cpf_then_exactly_its_rows_show(
    auditor_client, consultations, term
):
    response = admin_search(auditor_client, CONSULTATIONS, term)

    shown = list(response.context["cl"].result_list)
    assert len(shown) == 2
    assert {row.cpf_masked for row in shown} == {"***.982.247-**"}


def test_if_the_audit_trail_is_searched_by_request_id_then_that_row_shows(
    auditor_client, consultations
):
    row = consultations.last()

    response = auditor_client.get(CONSULTATIONS, {"q": str(row.request_id)})

    assert list(response.context["cl"].result_list) == [row]


def test_if_the_search_is_neither_cpf_nor_request_id_then_nothing_shows(
    auditor_client, consultations
):
    response = auditor_client.get(CONSULTATIONS, {"q": "529982"})

    assert list(response.context["cl"].result_list) == []


def test_if_staff_open_an_audit_row_then_nothing_can_be_changed_or_deleted(
    admin_client, consultations
):
    row = consultations.first()

    change = admin_client.get(reverse("admin:scores_consultation_change", args=[row.pk]))
    post = admin_client.post(reverse("admin:scores_consultation_change", args=[row.pk]), {})
    delete = admin_client.get(reverse("admin:scores_consultation_delete", args=[row.pk]))
    add = admin_client.get(reverse("admin:scores_consultation_add"))

    assert change.status_code == 200
    assert 'type="submit" value="Save"' not in change.content.decode()
    assert post.status_code == 403
    assert delete.status_code == 403
    assert add.status_code == 403


def test_if_credit_profiles_are_searched_by_cpf_then_the_profile_shows(admin_client, make_profile):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)

    response = admin_search(admin_client, PROFILES, "529.982.247-25")

    assert [p.cpf_masked for p in response.context["cl"].result_list] == ["***.982.247-**"]


def test_if_staff_correct_a_profile_then_its_version_grows_and_its_cache_is_invalidated(
    admin_client, client_with_key, make_profile, score_table, django_capture_on_commit_callbacks
):
    profile = make_profile(EXAMPLE_CPF)
    client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
    url = reverse("admin:scores_creditprofile_change", args=[profile.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data["active_negative_records"] = 2
    data.update(correction_protocol="2026-0042", correction_reason="Negativação confirmada.")

    with django_capture_on_commit_callbacks(execute=True):  # invalidation runs after commit
        response = admin_client.post(url, data)

    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.version, profile.active_negative_records) == (2, 2)
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None
    answer = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()
    assert answer["source"] == "computed"
    assert answer["score"] == 975 - 120  # negative records: 140 points -> 20


def test_if_a_profile_edit_is_out_of_range_then_it_is_refused(admin_client, make_profile):
    profile = make_profile(EXAMPLE_CPF)
    url = reverse("admin:scores_creditprofile_change", args=[profile.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data["on_time_payment_ratio"] = "1.5"
    data.update(correction_protocol="2026-0042", correction_reason="Correção do credor.")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.version == 1
    assert CreditProfile.objects.get().on_time_payment_ratio <= 1


def test_if_an_auditor_opens_a_served_score_then_its_bins_read_as_labels_and_bounds(
    auditor_client, record, api_key
):
    # The shipped 2026.1 scorecard's order: on-time payments' third bin (0.8-0.9), protests'
    # last (2 or more, no upper bound).
    now = timezone.now()
    [row] = record(
        EXAMPLE_CPF, at=now, api_key=api_key[0], score=805, bins=(2, 0, 0, 0, 2, 0, 0, 0, 0)
    )
    [old] = record(EXAMPLE_CPF, at=now, api_key=api_key[0], score=700)  # cached before bins

    page = auditor_client.get(reverse("admin:scores_consultation_change", args=[row.pk]))
    before = auditor_client.get(reverse("admin:scores_consultation_change", args=[old.pk]))

    shown = page.content.decode()
    assert "Pagamentos em dia (12 meses): 0,8 &ndash; 0,9" in shown
    assert "Protestos: 2 &ndash; ∞" in shown
    assert "2,0,0,0,2" not in shown
    assert 'class="served-bins"' not in before.content.decode()
