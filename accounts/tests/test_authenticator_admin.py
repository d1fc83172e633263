"""Staff authenticators in the admin: a superuser sees who has one and removes a lost one,
and never sees, edits or adds an authenticator's secret (whoever holds it signs in as that
member)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.staff import StaffRole
from conftest import sign_in

CHANGELIST = reverse("admin:accounts_staffauthenticator_changelist")


@pytest.fixture
def superuser_client(staff_user):
    root, _device = staff_user("root", superuser=True, totp=True)
    return sign_in(Client(), root)


@pytest.fixture
def someone_s_device(staff_user):
    _user, device = staff_user("carla", role=StaffRole.KEY_MANAGERS, totp=True)
    device.confirmed = True
    device.save()
    return device


def secrets_of(device):
    return [device.key, device.bin_key.hex(), device.config_url, "otpauth://"]


def test_if_a_superuser_lists_authenticators_then_who_has_one_shows_and_no_secret(
    superuser_client, someone_s_device
):
    page = superuser_client.get(CHANGELIST).content.decode()

    assert "carla" in page
    assert not [secret for secret in secrets_of(someone_s_device) if secret in page]
    assert "qrcode" not in page.lower()


def test_if_a_superuser_opens_an_authenticator_then_it_is_read_only_without_its_secret(
    superuser_client, someone_s_device
):
    response = superuser_client.get(
        reverse("admin:accounts_staffauthenticator_change", args=[someone_s_device.pk])
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert not [secret for secret in secrets_of(someone_s_device) if secret in page]
    assert 'name="key"' not in page
    assert "qrcode" not in page.lower()
    assert 'name="_save"' not in page  # nothing to edit


def test_if_a_superuser_edits_an_authenticator_then_nothing_changes(
    superuser_client, someone_s_device
):
    key = someone_s_device.key

    response = superuser_client.post(
        reverse("admin:accounts_staffauthenticator_change", args=[someone_s_device.pk]),
        {"user": someone_s_device.user_id, "name": "mine", "key": "00" * 20, "confirmed": "on"},
    )

    someone_s_device.refresh_from_db()
    assert response.status_code == 403
    assert (someone_s_device.key, someone_s_device.name) == (key, "phone")


@pytest.mark.parametrize("page", ["config", "qrcode"])
def test_if_a_superuser_asks_for_an_authenticator_s_setup_page_then_there_is_none(
    superuser_client, someone_s_device, page
):
    response = superuser_client.get(f"{CHANGELIST}{someone_s_device.pk}/{page}/", follow=False)

    assert response.status_code == 403
    assert someone_s_device.key not in response.content.decode()
    assert "otpauth://" not in response.content.decode()


def test_if_a_superuser_opens_the_add_page_then_no_authenticator_is_made_for_another(
    superuser_client, someone_s_device
):
    """Adding one would show its secret (and the member enrols their own at sign-in)."""
    response = superuser_client.get(reverse("admin:accounts_staffauthenticator_add"))

    assert response.status_code == 403


def test_if_a_superuser_removes_a_lost_authenticator_then_it_is_gone(
    superuser_client, someone_s_device
):
    delete = reverse("admin:accounts_staffauthenticator_delete", args=[someone_s_device.pk])

    confirmation = superuser_client.get(delete)
    response = superuser_client.post(delete, {"post": "yes"})

    assert confirmation.status_code == 200
    assert someone_s_device.key not in confirmation.content.decode()
    assert response.status_code == 302
    assert not type(someone_s_device).objects.filter(pk=someone_s_device.pk).exists()
