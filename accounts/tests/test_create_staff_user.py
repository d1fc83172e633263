"""The first staff user on Lambda: no password in any output, a one-time link instead."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from conftest import admin_sign_in

pytestmark = pytest.mark.django_db


def create(*args):
    out = StringIO()
    call_command("create_staff_user", *args, stdout=out)
    return out.getvalue()


def set_password_path(output):
    match = re.search(r"at: http://127\.0\.0\.1:8000(/admin/password-set/\S+/)", output)
    assert match, output
    return match[1]


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # what make run's .env says


def test_if_a_staff_user_is_created_then_the_printed_link_sets_the_password_once(client):
    output = create("ops", "--email", "ops@bank.example", "--superuser")
    user = get_user_model().objects.get(username="ops")
    assert user.is_staff
    assert user.is_superuser
    assert not user.has_usable_password()

    form_page = client.get(set_password_path(output), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {
            "new_password1": "a-Long-and-Unusual-passphrase-42",
            "new_password2": "a-Long-and-Unusual-passphrase-42",
        },
    )

    assert response.status_code == 302
    signed_in = admin_sign_in(client, "ops", "a-Long-and-Unusual-passphrase-42")
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    client.logout()
    reused = client.get(set_password_path(output), follow=True)
    assert reused.context["validlink"] is False


def test_if_the_user_exists_then_nothing_changes(admin_user):
    with pytest.raises(CommandError, match="already exists"):
        create(admin_user.username, "--email", "x@bank.example")


def test_if_the_group_is_unknown_then_no_user_is_created():
    with pytest.raises(CommandError, match="No group"):
        create("auditor", "--email", "a@bank.example", "--group", "Nope")

    assert not get_user_model().objects.filter(username="auditor").exists()
