"""After real traffic, no store and no log line holds a CPF or an API key secret.

Checked the way an auditor would: a pg_dump of the whole database, a scan of the DynamoDB
table, and every line the application logged.
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.contrib.admin.utils import quote
from django.core.management import call_command
from django.db import connections
from rest_framework.test import APIClient

from devstack.services import postgres_bindir
from scores.core.cpf import Cpf
from scores.imports.profile_file import COLUMNS
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

UNKNOWN_CPF = "390.533.447-05"


def pg_dump() -> str:
    """The whole database, dumped by its owner (the serving role may not read sequences)."""
    db = connections["owner"].settings_dict
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return subprocess.run(
        [str(postgres_bindir() / "pg_dump"), "--no-owner", url],
        capture_output=True,
        text=True,
        check=True,
        env={"PGPASSWORD": db["PASSWORD"] or ""},
    ).stdout


def dynamodb_items(dynamodb, table: str) -> str:
    return json.dumps(dynamodb.scan(TableName=table, ConsistentRead=True)["Items"])


@pytest.mark.django_db(transaction=True)
def test_if_traffic_was_served_then_no_dump_scan_or_log_holds_a_cpf_or_key(
    tmp_path, issue_key, score_table, dynamodb, admin_client, log_output
):
    profiles = tmp_path / "profiles.csv"
    profiles.write_text(
        f"{','.join(COLUMNS)}\n{EXAMPLE_CPF},0.98,0,0,0,0,0.25,1,96,3\n"
        f"{OTHER_EXAMPLE_CPF.replace('.', '').replace('-', '')},0.72,2,45,1,0,0.85,4,20,7\n"
    )
    call_command("import_profiles", str(profiles), stdout=StringIO(), stderr=StringIO())
    _, plaintext = issue_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")

    for cpf in (EXAMPLE_CPF, "52998224725", OTHER_EXAMPLE_CPF, UNKNOWN_CPF, "52998224724"):
        client.post("/api/v1/scores", {"cpf": cpf, "purpose": "credit_review"}, format="json")
    client.post(f"/api/v1/scores?cpf={UNKNOWN_CPF}", {"cpf": EXAMPLE_CPF}, format="json")
    client.get(f"/api/v1/scores/{UNKNOWN_CPF}")
    client.post("/api/v1/scores", {"cpf": EXAMPLE_CPF, "52998224725": "x"}, format="json")
    APIClient().post(
        "/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json", HTTP_X_API_KEY=plaintext[:-2] + "zz"
    )
    APIClient().post(
        "/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json", HTTP_X_API_KEY="52998224725"
    )
    admin_client.get("/admin/scores/consultation/", {"q": EXAMPLE_CPF})

    secrets = [plaintext, plaintext.split(".", 1)[1]]
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF, UNKNOWN_CPF, "529.982.247-24"):
        parsed = cpf.replace(".", "").replace("-", "")
        secrets += [parsed, cpf]

    dump, items, logs = pg_dump(), dynamodb_items(dynamodb, score_table), json.dumps(log_output())
    assert "***.982.247-**" in dump  # the dump is real
    assert "975" in items  # so is the scan
    assert len(log_output()) >= 10  # and the log
    for secret in secrets:
        assert secret not in dump, secret
        assert secret not in items, secret
        assert secret not in logs, secret
    assert Cpf.parse(EXAMPLE_CPF).lookup_hash(b"x" * 32) not in dump  # sanity: hashes are keyed


@pytest.mark.django_db(transaction=True)
def test_if_keys_are_issued_rotated_and_revoked_in_the_admin_then_no_dump_or_log_holds_them(
    admin_client, organization, score_table, log_output
):
    import re

    from django.urls import reverse

    from accounts.models import ApiKey

    def shown(page):
        found = re.search(r'id="issued-api-key"[^>]*value="([^"]+)"', page.content.decode())
        assert found, "the issued page shows the key"
        return found[1]

    posted = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {
            "name": "core banking",
            "organization": organization.pk,
            "scopes": ["scores:read"],
            "rate_limit_per_minute": "60",
            "daily_quota": "1000",
            "default_purpose": "credit_analysis",
        },
    )
    parked = pg_dump()  # between the POST and the page that shows the key
    first = shown(admin_client.get(posted["Location"]))
    key = ApiKey.objects.get()
    rotated = admin_client.post(
        reverse("admin:accounts_apikey_rotate", args=[quote(key.pk)]), {"grace_hours": "1"}
    )
    second = shown(admin_client.get(rotated["Location"]))
    admin_client.post(
        reverse("admin:accounts_apikey_revoke", args=[quote(key.pk)]),
        {"confirmed": "yes", "reason": "vazamento"},
    )

    dump, logs = pg_dump(), json.dumps(log_output())
    assert "accounts_keylifecycleevent" in dump
    for plaintext in (first, second):
        secret = plaintext.split(".", 1)[1]
        for where in (parked, dump, logs):
            assert secret not in where
