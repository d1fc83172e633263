"""Secrets made by commands on a stage go to the operations bucket, never to the output.

With OPERATIONS_BUCKET set (every deployed stage), `issue_api_key`, `rotate_api_key` and
`create_staff_user` put the new key or the password-set link under `handoff/` in the
bucket (the local moto S3 here) and print only where it is. If the bucket cannot be
written, the command fails and nothing was issued. The Lambda package test runs one of
them as `zappa manage` does and reads the function's log.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, KeyLifecycleEvent
from accounts.services import api_key_authenticate, api_key_issue
from scoreportal import aws_clients

pytestmark = pytest.mark.django_db

LOCATION = re.compile(r"aws s3 cp s3://([^/\s]+)/(handoff/[^\s]+) - && aws s3 rm s3://\1/\2\b")


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def handed_over(output: str, bucket: str, kind: str) -> str:
    """The secret at the location the output names (which must be in `bucket`, under kind)."""
    match = LOCATION.search(output)
    assert match, output
    assert match[1] == bucket
    assert match[2].startswith(f"handoff/{kind}/")
    obj = aws_clients.s3().get_object(Bucket=bucket, Key=match[2])
    assert obj["ContentType"] == "text/plain; charset=utf-8"
    return obj["Body"].read().decode().strip()


def test_if_a_key_is_issued_on_a_stage_then_it_is_in_the_bucket_and_not_in_the_output(
    organization, operations_bucket
):
    output = run("issue_api_key", organization.slug, "--name", "core banking")

    plaintext = handed_over(output, operations_bucket, "api-key")
    key = api_key_authenticate(plaintext)
    assert key.organization == organization
    assert plaintext not in output
    assert plaintext.split(".")[1] not in output
    assert key.prefix in output  # the operator can tell which key it is


def test_if_a_key_is_rotated_on_a_stage_then_the_new_one_is_in_the_bucket_only(
    api_key, operations_bucket
):
    old, _ = api_key

    output = run("rotate_api_key", old.prefix)

    plaintext = handed_over(output, operations_bucket, "api-key")
    assert api_key_authenticate(plaintext).replaces_id == old.pk
    assert plaintext.split(".")[1] not in output


def test_if_a_staff_user_is_created_on_a_stage_then_the_link_is_in_the_bucket_only(
    client, operations_bucket, settings
):
    settings.PUBLIC_BASE_URL = "https://portal.bank.example"

    output = run("create_staff_user", "ops", "--email", "ops@bank.example", "--superuser")

    link = handed_over(output, operations_bucket, "password-link")
    assert link.startswith("https://portal.bank.example/admin/password-set/#")
    assert "password-set" not in output
    code = link.partition("#")[2]
    assert code not in output
    # What the link's page does with it (accounts/tests/test_create_staff_user.py).
    form = client.post("/admin/password-set/", {"code": code}, follow=True)
    assert form.context["validlink"] is True


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("issue_api_key", "banco-exemplo", "--name", "x"), id="issue_api_key"),
        pytest.param(("rotate_api_key", "{prefix}"), id="rotate_api_key"),
        pytest.param(("create_staff_user", "ops", "--email", "o@bank.example"), id="staff"),
    ],
)
def test_if_the_bucket_cannot_be_written_then_nothing_is_issued(
    organization, operations_bucket, settings, command
):
    existing, _ = api_key_issue(organization=organization, name="in use")
    events = KeyLifecycleEvent.objects.count()
    command = tuple(arg.format(prefix=existing.prefix) for arg in command)
    settings.OPERATIONS_BUCKET = f"{operations_bucket}-missing"

    with pytest.raises(CommandError, match="nothing was issued") as raised:
        run(*command)

    assert "NoSuchBucket" in str(raised.value)
    assert list(ApiKey.objects.all()) == [existing]
    existing.refresh_from_db()
    assert existing.expiry_date is None  # a failed rotation left the key as it was
    assert KeyLifecycleEvent.objects.count() == events
    assert not get_user_model().objects.filter(username="ops").exists()


def test_if_no_bucket_is_configured_then_the_key_is_printed_as_on_a_laptop(organization, settings):
    settings.OPERATIONS_BUCKET = ""

    out = StringIO()
    call_command("issue_api_key", organization.slug, "--name", "x", stdout=out, stderr=StringIO())

    assert api_key_authenticate(out.getvalue().strip()).organization == organization
