"""Each staff role can do its job in the admin and nothing more.

A walk over every admin page, as each role, with real data on every page: what each role
may open is written out here, role by role, not derived from the code under test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey, KeyLifecycleEvent
from accounts.services import api_key_revoke, api_key_rotate
from accounts.staff import StaffRole
from conftest import sign_in
from scoreportal.error_codes import ErrorCode
from scores.constants import Endpoint
from scores.core.cpf import Cpf
from scores.models import (
    Consultation,
    ConsumerRequest,
    ConsumerRequestChannel,
    ConsumerRequestKind,
    ConsumerRequestState,
    ProfileImport,
)
from scores.services import consumer_request_register
from scores.tests.fixtures import EXAMPLE_CPF

SUPERUSER, KEY_MANAGER, AUDITOR, OPERATOR, CONSUMER_SERVICE, NO_ROLE = (
    "superuser",
    "key manager",
    "auditor",
    "credit data operator",
    "consumer service",
    "staff without a role",
)
ROLES = {
    KEY_MANAGER: StaffRole.KEY_MANAGERS,
    AUDITOR: StaffRole.AUDITORS,
    OPERATOR: StaffRole.CREDIT_DATA_OPERATORS,
    CONSUMER_SERVICE: StaffRole.CONSUMER_SERVICE,
}
EVERY_ROLE = [SUPERUSER, KEY_MANAGER, AUDITOR, OPERATOR, CONSUMER_SERVICE, NO_ROLE]

# model admin -> (who may list and open objects, who may add)
PAGES = {
    "accounts_organization": ({SUPERUSER, KEY_MANAGER, AUDITOR}, {SUPERUSER, KEY_MANAGER}),
    "accounts_apikey": ({SUPERUSER, KEY_MANAGER, AUDITOR}, {SUPERUSER, KEY_MANAGER}),
    "accounts_keylifecycleevent": ({SUPERUSER, KEY_MANAGER, AUDITOR}, set()),
    "accounts_staffsignin": ({SUPERUSER, AUDITOR}, set()),
    "accounts_staffsigninfailure": ({SUPERUSER, AUDITOR}, set()),
    "accounts_stafflockout": ({SUPERUSER, AUDITOR}, set()),
    "scores_consultation": ({SUPERUSER, AUDITOR}, set()),
    "scores_creditprofile": ({SUPERUSER, OPERATOR}, set()),
    "scores_profileimport": ({SUPERUSER, OPERATOR}, {SUPERUSER, OPERATOR}),
    "scores_consumerrequest": (
        {SUPERUSER, AUDITOR, OPERATOR, CONSUMER_SERVICE},
        {SUPERUSER, CONSUMER_SERVICE},
    ),
    "auth_user": ({SUPERUSER}, {SUPERUSER}),
    "auth_group": ({SUPERUSER}, {SUPERUSER}),
}
# admin pages that are not lists of rows -> who may open them
VIEWS = {
    "admin:scores_scorecardversion_changelist": {SUPERUSER, OPERATOR},
    "admin:scores_creditprofile_invalidate_all": {SUPERUSER, OPERATOR},
    "admin:audit_usagereport_changelist": {SUPERUSER, AUDITOR, OPERATOR},
    "admin:audit_cpfreport_changelist": {SUPERUSER, AUDITOR, CONSUMER_SERVICE},
}
# who may change (not only view) what they can open
CHANGE = {
    "accounts_organization": {SUPERUSER, KEY_MANAGER},
    "accounts_apikey": {SUPERUSER, KEY_MANAGER},
    "scores_creditprofile": {SUPERUSER, OPERATOR},
    "auth_user": {SUPERUSER},
    "auth_group": {SUPERUSER},
}


@pytest.fixture
def data(issue_key, make_profile, organization):
    """Something on every page: keys (active, rotated, revoked), consultations, profiles,
    the lifecycle record, staff sign-ins, failures and a lockout."""
    active, _ = issue_key(name="core banking")
    rotated, _ = issue_key(name="legacy")
    api_key_rotate(api_key=rotated, grace=timedelta(hours=1))
    api_key_revoke(api_key=issue_key(name="retired")[0])
    profile = make_profile()
    consumer_request_register(
        cpf=Cpf.parse(EXAMPLE_CPF),
        kind=ConsumerRequestKind.DISPUTE,
        channel=ConsumerRequestChannel.PHONE,
        disputed_fields=["protests"],
        actor="test",
    )
    ProfileImport.objects.create(
        source=ProfileImport.Source.COMMAND,
        actor_name="ops",
        file_name="profiles.csv",
        file_sha256="0" * 64,
        file_size=10,
        status=ProfileImport.Status.IMPORTED,
    )
    Consultation.objects.create(
        request_id="0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
        endpoint=Endpoint.SCORE,
        organization=organization,
        api_key=active,
        api_key_prefix=active.prefix,
        cpf_hash=profile.cpf_hash,
        cpf_masked=profile.cpf_masked,
        purpose="credit_analysis",
        outcome=ErrorCode.NO_CREDIT_DATA,
        http_status=404,
        latency_ms=12,
    )
    common = {"user_agent": "test", "http_accept": "*/*", "path_info": "/admin/login/"}
    AccessLog.objects.create(username="ana", ip_address="192.0.2.1", **common)
    AccessFailureLog.objects.create(
        username="bruno", ip_address="192.0.2.2", locked_out=True, **common
    )
    AccessAttempt.objects.create(
        username="bruno",
        ip_address="192.0.2.2",
        get_data="",
        post_data="",
        failures_since_start=5,
        **common,
    )
    return {"organization": organization, "key": active, "profile": profile}


@pytest.fixture
def as_role(django_user_model):
    def client_for(role):
        user = django_user_model.objects.create_user(
            username=role.replace(" ", "-"),
            password="x",
            is_staff=role != "not staff",
            is_superuser=role == SUPERUSER,
        )
        if role in ROLES:
            user.groups.add(Group.objects.get(name=ROLES[role]))
        return sign_in(Client(), user)

    return client_for


def first_object(model_admin_name):
    from django.apps import apps

    app_label, model_name = model_admin_name.split("_", 1)
    model = apps.get_model(app_label, model_name)
    return model.objects.order_by("pk").first()


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_if_a_role_walks_the_admin_then_it_opens_its_pages_and_no_others(data, as_role, role):
    client = as_role(role)

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    for page, (viewers, adders) in PAGES.items():
        obj = first_object(page)
        assert obj is not None, page
        changelist = client.get(reverse(f"admin:{page}_changelist"))
        change = client.get(reverse(f"admin:{page}_change", args=[quote(obj.pk)]))
        add = client.get(reverse(f"admin:{page}_add"))
        if role in viewers:
            assert changelist.status_code == 200, (role, page)
            assert change.status_code == 200, (role, page)
            assert len(changelist.context["cl"].result_list) >= 1, (role, page)
            can_change = role in CHANGE.get(page, set()) and not getattr(obj, "revoked", False)
            assert ('name="_save"' in change.content.decode()) is can_change, (role, page)
        else:
            assert changelist.status_code == 403, (role, page)
            assert change.status_code == 403, (role, page)
        assert add.status_code == (200 if role in adders else 403), (role, page)


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_if_a_role_opens_the_pages_that_are_not_lists_then_only_its_own_open(data, as_role, role):
    client = as_role(role)

    for name, viewers in VIEWS.items():
        response = client.get(reverse(name))
        assert response.status_code == (200 if role in viewers else 403), (role, name)


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_if_a_role_uses_the_cache_control_and_the_import_then_only_operators_may(
    data, as_role, role, score_table
):
    client = as_role(role)
    profile = data["profile"]
    record = ProfileImport.objects.get()

    invalidated = client.post(
        reverse("admin:scores_creditprofile_changelist"),
        {"action": "invalidate_cached_scores", "_selected_action": [profile.pk]},
    )
    all_invalidated = client.post(
        reverse("admin:scores_creditprofile_invalidate_all"), {"confirmed": "yes"}
    )
    confirmed = client.post(reverse("admin:scores_profileimport_confirm", args=[record.pk]))
    uploaded = client.post(reverse("admin:scores_profileimport_add"), {})

    if role in (SUPERUSER, OPERATOR):
        assert invalidated.status_code == 302, role
        assert all_invalidated.status_code == 302, role
        assert confirmed.status_code == 302, role  # and refused: a command line's record
        assert uploaded.status_code == 200, role  # the form, with its errors
    else:
        assert invalidated.status_code == 403, role
        assert all_invalidated.status_code == 403, role
        assert confirmed.status_code == 403, role
        assert uploaded.status_code == 403, role
    record.refresh_from_db()
    assert record.status == ProfileImport.Status.IMPORTED


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_if_a_role_opens_the_key_lifecycle_actions_then_only_key_managers_may(data, as_role, role):
    client = as_role(role)
    key = data["key"]

    pages = [
        client.get(reverse("admin:accounts_apikey_rotate", args=[quote(key.pk)])),
        client.get(reverse("admin:accounts_apikey_revoke", args=[quote(key.pk)])),
    ]
    revoked = client.post(
        reverse("admin:accounts_apikey_revoke", args=[quote(key.pk)]),
        {"confirmed": "yes", "reason": "fim do contrato"},
    )

    key.refresh_from_db()
    if role in (SUPERUSER, KEY_MANAGER):
        assert [page.status_code for page in pages] == [200, 200]
        assert key.revoked
    else:
        assert [page.status_code for page in pages] == [403, 403]
        assert revoked.status_code == 403
        assert not key.revoked


def test_if_an_auditor_reads_the_audit_trail_and_lifecycle_record_then_nothing_can_change(
    data, as_role
):
    client = as_role(AUDITOR)
    consultation = Consultation.objects.get()
    event = KeyLifecycleEvent.objects.earliest("pk")

    for url in (
        reverse("admin:scores_consultation_change", args=[consultation.pk]),
        reverse("admin:accounts_keylifecycleevent_change", args=[event.pk]),
        reverse("admin:accounts_apikey_change", args=[quote(data["key"].pk)]),
        reverse("admin:accounts_organization_change", args=[data["organization"].pk]),
    ):
        assert client.get(url).status_code == 200, url
        assert client.post(url, {"name": "changed"}).status_code == 403, url
    assert client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [data["key"].pk], "confirmed": "yes"},
    ).status_code in (200, 302)
    assert not ApiKey.objects.filter(revoked=True, name="core banking").exists()


def test_if_a_credit_data_operator_looks_for_keys_then_they_are_not_there(data, as_role):
    client = as_role(OPERATOR)

    index = client.get(reverse("admin:index")).content.decode()

    assert "Chaves de API" not in index
    assert "Perfis de crédito" in index
    assert "Importações de perfis de crédito" in index
    assert "Tabelas de pontuação (scorecards)" in index
    assert client.get(reverse("admin:accounts_apikey_changelist")).status_code == 403


def test_if_someone_who_is_not_staff_opens_the_admin_then_it_asks_them_to_sign_in(
    data, django_user_model
):
    user = django_user_model.objects.create_user(username="cliente", password="x")
    client = Client()
    client.force_login(user)

    for url in (
        reverse("admin:index"),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:scores_consultation_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_if_a_role_resolves_a_dispute_then_only_operators_may(data, as_role, role, score_table):
    client = as_role(role)
    dispute = ConsumerRequest.objects.get()
    url = reverse("admin:scores_consumerrequest_resolve", args=[dispute.pk])

    page = client.get(url)
    resolved = client.post(url, {"outcome": "confirmed", "resolution": "Checked with the bank."})

    dispute.refresh_from_db()
    if role in (SUPERUSER, OPERATOR):
        assert (page.status_code, resolved.status_code) == (200, 302), role
        assert dispute.state == ConsumerRequestState.RESOLVED
    else:
        assert (page.status_code, resolved.status_code) == (403, 403), role
        assert dispute.state == ConsumerRequestState.OPEN
