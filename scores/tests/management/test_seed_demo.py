"""manage.py seed_demo: demo data for a laptop, safe to run again."""

from __future__ import annotations

import base64
import re
import shlex
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey
from conftest import admin_sign_in, totp_code
from scores.models import CreditProfile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]


def seed(profiles=50):
    out = StringIO()
    call_command("seed_demo", "--profiles", str(profiles), "--force", stdout=out)
    return out.getvalue()


def printed_key(output):
    match = re.search(r"Demo API key \(shown once\): (\S+)", output)
    assert match
    return match[1]


def test_if_demo_data_is_seeded_then_the_printed_curl_gets_a_score():
    output = seed()

    curl = next(line for line in output.splitlines() if line.strip().startswith("curl"))
    args = shlex.split(curl)
    headers = dict(args[i + 1].split(": ", 1) for i, arg in enumerate(args) if arg == "-H")
    body = args[args.index("-d") + 1]
    response = APIClient().generic(
        "POST",
        "/api/v1/scores",
        body,
        content_type=headers["Content-Type"],
        HTTP_AUTHORIZATION=headers["Authorization"],
    )
    assert response.status_code == 200
    assert response.json()["cpf"] == "***.982.247-**"
    assert CreditProfile.objects.count() == 52  # 50 generated + the two published examples


def test_if_seeded_then_the_staff_user_signs_in_with_the_printed_password_and_authenticator(
    client,
):
    output = seed()

    password = re.search(r"password (\S+)", output)
    secret = re.search(r"type the key ([A-Z2-7]+)", output)
    assert password
    assert secret
    signed_in = admin_sign_in(client, "admin", password[1], totp_code(base64.b32decode(secret[1])))

    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    assert get_user_model().objects.get(username="admin").is_superuser
    assert "\u2588" in output or "\u2580" in output  # the QR code, in block characters


def test_if_debug_is_off_then_seed_demo_refuses_without_force(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="refuses to run with DJANGO_DEBUG off"):
        call_command("seed_demo", "--profiles", "1", stdout=StringIO())

    assert not ApiKey.objects.exists()


def test_if_seeded_twice_then_data_is_not_duplicated_and_only_the_new_key_works():
    first = printed_key(seed())
    edited = CreditProfile.objects.order_by("pk")[0]
    CreditProfile.objects.filter(pk=edited.pk).update(protests=9)  # an operator's correction
    second_output = seed()
    second = printed_key(second_output)

    assert CreditProfile.objects.count() == 52
    assert "52 already here; the demo profiles are not imported again" in second_output
    assert CreditProfile.objects.get(pk=edited.pk).protests == 9
    assert "password unchanged" in second_output
    assert ApiKey.objects.filter(revoked=False).count() == 1
    client = APIClient()
    ok = client.post(
        "/api/v1/scores", {"cpf": "111.444.777-35"}, format="json", HTTP_X_API_KEY=second
    )
    revoked = client.post(
        "/api/v1/scores", {"cpf": "111.444.777-35"}, format="json", HTTP_X_API_KEY=first
    )
    assert ok.status_code == 200
    assert revoked.json()["error"]["code"] == "api_key_revoked"
