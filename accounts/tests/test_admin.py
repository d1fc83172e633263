"""Staff issue and revoke keys in the admin; the plaintext is shown once and kept nowhere."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.exceptions import ApiKeyRevoked, OrganizationInactive
from accounts.models import ApiKey, Organization
from accounts.services import api_key_authenticate

ADD_URL = reverse("admin:accounts_apikey_add")
CHANGELIST_URL = reverse("admin:accounts_apikey_changelist")


def issue_in_admin(admin_client, organization, **overrides):
    data = {
        "name": "core banking",
        "organization": organization.pk,
        "scopes": ["scores:read", "scores:batch"],
        "expiry_date_0": "",
        "expiry_date_1": "",
        **overrides,
    }
    return admin_client.post(ADD_URL, data)


def shown_key(response):
    match = re.search(r'id="issued-api-key"[^>]*value="([^"]+)"', response.content.decode())
    assert match, "the issued key is not on the page"
    return match[1]


def test_if_staff_issue_a_key_then_it_is_shown_once_and_works(
    admin_client, admin_user, organization
):
    response = issue_in_admin(admin_client, organization)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = shown_key(response)
    key = api_key_authenticate(plaintext)
    assert key.organization == organization
    assert key.scopes == ["scores:read", "scores:batch"]
    assert key.created_by == admin_user

    detail = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))
    assert plaintext not in detail.content.decode()


def test_if_a_key_is_issued_in_the_admin_then_no_message_or_session_keeps_it(
    admin_client, organization
):
    response = issue_in_admin(admin_client, organization)
    plaintext = shown_key(response)

    assert all(plaintext not in morsel.value for morsel in response.cookies.values())
    for session in Session.objects.all():
        assert plaintext not in repr(session.get_decoded())
    followup = admin_client.get(CHANGELIST_URL)
    assert plaintext not in followup.content.decode()


def test_if_the_add_form_is_invalid_then_no_key_is_issued(admin_client, organization):
    response = issue_in_admin(admin_client, organization, scopes=["scores:write"])

    assert response.status_code == 200
    assert "issued-api-key" not in response.content.decode()
    assert not ApiKey.objects.exists()


def test_if_staff_revoke_keys_then_they_stop_working(admin_client, admin_user, issue_key):
    first, first_plaintext = issue_key(name="first")
    second, _ = issue_key(name="second")

    response = admin_client.post(
        CHANGELIST_URL,
        {"action": "revoke_keys", "_selected_action": [first.pk]},
        follow=True,
    )

    assert "1 chave de API revogada." in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.revoked
    assert first.revoked_by == admin_user
    assert not second.revoked
    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(first_plaintext)


def test_if_a_key_is_revoked_then_its_admin_form_is_read_only(admin_client, api_key):
    from accounts.services import api_key_revoke

    key = api_key_revoke(api_key=api_key[0])

    response = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' not in content
    assert 'name="scopes"' not in content


def test_if_staff_try_to_delete_a_key_or_organization_then_it_is_not_offered(admin_client, api_key):
    key = api_key[0]

    key_delete = admin_client.get(reverse("admin:accounts_apikey_delete", args=[key.pk]))
    org_delete = admin_client.get(
        reverse("admin:accounts_organization_delete", args=[key.organization.pk])
    )

    assert key_delete.status_code == 403
    assert org_delete.status_code == 403


def test_if_the_library_model_exists_then_it_is_not_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert "rest_framework_api_key" not in response.content.decode()


def test_if_staff_change_a_key_s_scopes_then_this_process_applies_them_on_commit(
    admin_client, api_key, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    assert api_key_authenticate(plaintext).scopes == ["scores:read"]  # now a recent key

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_apikey_change", args=[key.pk]),
            {
                "name": "renamed",
                "scopes": ["scores:batch"],
                "expiry_date_0": "",
                "expiry_date_1": "",
            },
        )

    assert response.status_code == 302
    assert api_key_authenticate(plaintext).scopes == ["scores:batch"]
    key.refresh_from_db()
    assert (key.name, key.version) == ("renamed", 2)


def test_if_staff_deactivate_an_organization_then_its_keys_are_refused_on_commit(
    admin_client, api_key, organization, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    api_key_authenticate(plaintext)  # now a recent key

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            reverse("admin:accounts_organization_change", args=[organization.pk]),
            {"name": organization.name, "slug": organization.slug, "contact_email": ""},
        )

    assert response.status_code == 302
    assert len(callbacks) == 1  # the keys' new versions are announced
    organization.refresh_from_db()
    key.refresh_from_db()
    assert (organization.is_active, key.version) == (False, 2)
    with pytest.raises(OrganizationInactive):
        api_key_authenticate(plaintext)


def test_if_staff_add_an_organization_then_it_is_created_active(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_organization_add"),
        {"name": "Banco Novo", "slug": "banco-novo", "is_active": "on", "contact_email": ""},
    )

    assert response.status_code == 302
    assert Organization.objects.get(slug="banco-novo").is_active
