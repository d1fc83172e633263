"""A profile's correction in the admin: refused without the case's protocol and reason,
recorded with them, listed on the profile and in the corrections' record, which auditors
read too."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from conftest import admin_search, sign_in
from scores.constants import PROFILE_CHARACTERISTICS
from scores.models import CreditProfile, CreditProfileCorrection
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

CORRECTIONS = reverse("admin:scores_creditprofilecorrection_changelist")


def change_url(profile: CreditProfile) -> str:
    return reverse("admin:scores_creditprofile_change", args=[quote(profile.pk)])


def form_data(profile: CreditProfile, **changes: Any) -> dict[str, Any]:
    """The edit form as the page sends it, with `changes` typed in."""
    data: dict[str, Any] = {name: str(getattr(profile, name)) for name in PROFILE_CHARACTERISTICS}
    data.update({"correction_protocol": "", "correction_reason": "", "_save": "Salvar"})
    data.update(changes)
    return data


@pytest.fixture
def operator(staff_member):
    return sign_in(Client(), staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS))


@pytest.fixture
def auditor(staff_member):
    return sign_in(Client(), staff_member("alice", role=StaffRole.AUDITORS))


def test_if_an_operator_changes_a_profile_without_protocol_and_reason_then_nothing_changes(
    operator, make_profile
):
    profile = make_profile(EXAMPLE_CPF)

    response = operator.post(change_url(profile), form_data(profile, protests="2"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"correction_protocol", "correction_reason"}
    assert "protocolo" in str(errors["correction_protocol"])
    profile.refresh_from_db()
    assert (profile.protests, profile.version) == (0, 1)
    assert not CreditProfileCorrection.objects.exists()


def test_if_an_operator_corrects_a_profile_then_the_record_and_the_profile_page_show_it(
    operator, auditor, make_profile
):
    profile = make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)

    response = operator.post(
        change_url(profile),
        form_data(
            profile,
            protests="2",
            credit_utilization="0,9",
            correction_protocol="2026-0042",
            correction_reason="Protesto registrado pelo cartório em 01/12.",
        ),
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.protests, str(profile.credit_utilization), profile.version) == (
        2,
        "0.9000",
        2,
    )
    [correction] = CreditProfileCorrection.objects.all()
    assert (correction.protocol, correction.actor_name) == ("2026-0042", "otto")
    page = operator.get(change_url(profile)).content.decode()
    assert "2026-0042" in page
    assert reverse("admin:scores_creditprofilecorrection_change", args=[correction.pk]) in page

    for client in (operator, auditor):
        listed = admin_search(client, CORRECTIONS, EXAMPLE_CPF).content.decode()
        assert "2026-0042" in listed
        assert "Protestos, Utilização de crédito" in listed
        assert "otto" in listed
    assert "2026-0042" in auditor.get(CORRECTIONS, {"q": "2026-0042"}).content.decode()
    assert "2026-0042" not in admin_search(auditor, CORRECTIONS, OTHER_EXAMPLE_CPF).content.decode()
    detail = auditor.get(
        reverse("admin:scores_creditprofilecorrection_change", args=[correction.pk])
    ).content.decode()
    assert "Protesto registrado pelo cartório em 01/12." in detail
    history = operator.get(
        reverse("admin:scores_creditprofile_history", args=[quote(profile.pk)])
    ).content.decode()
    assert "2026-0042" in history
    assert "Protesto registrado pelo cartório em 01/12." in history


def test_if_only_the_protocol_and_reason_are_typed_then_nothing_is_recorded(operator, make_profile):
    profile = make_profile(EXAMPLE_CPF)

    response = operator.post(
        change_url(profile),
        form_data(profile, correction_protocol="2026-1", correction_reason="Nada mudou."),
    )

    assert response.status_code == 302
    assert not CreditProfileCorrection.objects.exists()
    profile.refresh_from_db()
    assert profile.version == 1


@pytest.mark.parametrize("role", [StaffRole.KEY_MANAGERS, StaffRole.MODEL_APPROVERS])
def test_if_a_role_without_the_record_opens_the_corrections_then_it_is_refused(staff_member, role):
    client = sign_in(Client(), staff_member("kim", role=role))

    assert client.get(CORRECTIONS).status_code == 403
