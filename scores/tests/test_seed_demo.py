"""manage.py seed_demo: demo data for a laptop, safe to run again."""

from __future__ import annotations

import re
import shlex
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey
from scores.models import CreditProfile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]


def seed(profiles=50):
    out = StringIO()
    call_command("seed_demo", "--profiles", str(profiles), stdout=out)
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


def test_if_seeded_then_the_staff_user_can_log_in_with_the_printed_password(client):
    output = seed()

    match = re.search(r"password (\S+)", output)
    assert match
    password = match[1]
    assert client.login(username="admin", password=password)
    assert get_user_model().objects.get(username="admin").is_superuser


def test_if_seeded_twice_then_data_is_not_duplicated_and_only_the_new_key_works():
    first = printed_key(seed())
    second_output = seed()
    second = printed_key(second_output)

    assert CreditProfile.objects.count() == 52
    assert "0 created" in second_output
    assert "52 unchanged" in second_output
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
