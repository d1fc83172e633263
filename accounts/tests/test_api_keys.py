"""API keys: issue, store, authenticate, revoke."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from accounts.authentication import presented_key, presented_key_prefix
from accounts.constants import Scope
from accounts.exceptions import ApiKeyExpired, ApiKeyInvalid, ApiKeyRevoked, OrganizationInactive
from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_revoke

factory = APIRequestFactory()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"HTTP_AUTHORIZATION": "Api-Key abc.def"}, "abc.def", id="authorization"),
        pytest.param({"HTTP_AUTHORIZATION": "API-KEY  abc.def "}, "abc.def", id="scheme-case"),
        pytest.param({"HTTP_X_API_KEY": " abc.def "}, "abc.def", id="x-api-key"),
        pytest.param(
            {"HTTP_AUTHORIZATION": "Api-Key first.key", "HTTP_X_API_KEY": "second.key"},
            "first.key",
            id="authorization-wins",
        ),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer abc.def"}, None, id="other-scheme"),
        pytest.param({"HTTP_AUTHORIZATION": "Api-Key "}, None, id="empty-credentials"),
        pytest.param({}, None, id="none"),
    ],
)
def test_if_a_key_is_presented_then_it_is_read_from_the_headers(headers, expected):
    request = factory.post("/", **headers)

    assert presented_key(request) == expected


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        pytest.param("Abcd1234." + "x" * 32, "Abcd1234", id="well-formed"),
        pytest.param("52998224725", "", id="cpf-is-not-a-prefix"),
        pytest.param("Abcd1234", "", id="no-secret"),
        pytest.param("Abc.defghijklmnopqrstuvwxyz", "", id="short-prefix"),
    ],
)
def test_if_a_key_is_malformed_then_no_prefix_is_recorded(key, prefix):
    request = factory.post("/", HTTP_X_API_KEY=key)

    assert presented_key_prefix(request) == prefix


def test_if_a_key_is_issued_then_only_its_hash_is_stored(api_key):
    key, plaintext = api_key
    secret = plaintext.split(".", 1)[1]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        stored = repr(cursor.fetchall())
    assert secret not in stored
    assert plaintext not in stored
    assert key.hashed_key.startswith("sha512$$")


def test_if_a_key_is_used_then_last_used_at_is_written_once_a_minute(
    api_key, settings, django_assert_num_queries
):
    settings.API_KEY_CACHE_SECONDS = 0  # every authentication reads the key
    key, plaintext = api_key

    with django_assert_num_queries(2):  # lookup + last_used_at
        api_key_authenticate(plaintext)
    with django_assert_num_queries(1):  # lookup only: used less than a minute ago
        api_key_authenticate(plaintext)

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):
        api_key_authenticate(plaintext)
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=5)


def test_if_a_key_was_used_recently_then_authenticating_it_needs_no_query(
    api_key, django_assert_num_queries
):
    api_key_authenticate(api_key[1])

    with django_assert_num_queries(0):
        assert api_key_authenticate(api_key[1]) == api_key[0]


def test_if_a_recently_used_key_gets_a_wrong_secret_then_it_is_still_refused(api_key):
    api_key_authenticate(api_key[1])
    wrong = api_key[1][:-1] + ("a" if api_key[1][-1] != "a" else "b")

    with pytest.raises(ApiKeyInvalid):
        api_key_authenticate(wrong)


def test_if_this_process_revokes_a_recently_used_key_then_it_is_refused_at_once(api_key):
    api_key_authenticate(api_key[1])

    api_key_revoke(api_key=api_key[0])

    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(api_key[1])


def test_if_another_instance_deactivates_the_organization_then_it_applies_within_the_cache_time(
    api_key, organization, settings, monotonic
):
    settings.API_KEY_CACHE_SECONDS = 30
    api_key_authenticate(api_key[1])
    type(organization).objects.filter(pk=organization.pk).update(is_active=False)  # elsewhere

    monotonic.advance(29)
    api_key_authenticate(api_key[1])  # still the copy read 29 s ago
    monotonic.advance(2)
    with pytest.raises(OrganizationInactive):
        api_key_authenticate(api_key[1])


def test_if_a_recently_used_key_expires_then_it_is_refused_at_once(issue_key):
    _, plaintext = issue_key(expiry_date=timezone.now() + timedelta(seconds=1))
    api_key_authenticate(plaintext)

    with time_machine.travel(timezone.now() + timedelta(seconds=2)), pytest.raises(ApiKeyExpired):
        api_key_authenticate(plaintext)


def test_if_a_key_is_revoked_then_it_records_who_and_when(api_key, admin_user):
    revoked = api_key_revoke(api_key=api_key[0], revoked_by=admin_user)

    assert revoked.revoked
    assert revoked.revoked_by == admin_user
    assert revoked.revoked_at is not None
    assert timezone.now() - revoked.revoked_at < timedelta(seconds=5)


def test_if_a_revoked_key_is_saved_unrevoked_then_the_model_refuses(api_key):
    api_key_revoke(api_key=api_key[0])
    key = ApiKey.objects.get(pk=api_key[0].pk)

    key.revoked = False
    with pytest.raises(ValidationError):
        key.save()


def test_if_a_revoked_key_is_unrevoked_in_sql_then_the_database_refuses(api_key):
    api_key_revoke(api_key=api_key[0])

    with pytest.raises(DatabaseError, match="cannot be undone"), transaction.atomic():
        ApiKey.objects.filter(pk=api_key[0].pk).update(revoked=False, revoked_at=None)

    assert ApiKey.objects.get(pk=api_key[0].pk).revoked


def test_if_a_revoked_key_is_revoked_again_then_nothing_changes(api_key):
    first = api_key_revoke(api_key=api_key[0])

    second = api_key_revoke(api_key=api_key[0])

    assert second.revoked_at == first.revoked_at


def test_if_the_key_is_expired_and_revoked_then_revoked_is_reported(issue_key):
    key, plaintext = issue_key(expiry_date=timezone.now() - timedelta(days=1))
    api_key_revoke(api_key=key)

    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(plaintext)


def test_if_the_secret_is_wrong_then_revocation_is_not_revealed(api_key):
    api_key_revoke(api_key=api_key[0])
    wrong = api_key[1][:-1] + ("a" if api_key[1][-1] != "a" else "b")

    with pytest.raises(ApiKeyInvalid):
        api_key_authenticate(wrong)


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(["scores:write"], id="unknown"),
        pytest.param([Scope.SCORES_READ, Scope.SCORES_READ], id="repeated"),
        pytest.param("scores:read", id="not-a-list"),
    ],
)
def test_if_scopes_are_invalid_then_the_key_is_not_issued(issue_key, scopes):
    with pytest.raises(ValidationError):
        issue_key(scopes=scopes)

    assert not ApiKey.objects.exists()


def test_if_issue_api_key_runs_then_it_prints_a_working_key_once(organization):
    out, err = StringIO(), StringIO()

    call_command(
        "issue_api_key",
        organization.slug,
        "--name",
        "core banking",
        "--scope",
        "scores:batch",
        "--expires-in-days",
        "30",
        stdout=out,
        stderr=err,
    )

    plaintext = out.getvalue().strip()
    key = api_key_authenticate(plaintext)
    assert key.organization == organization
    assert key.scopes == ["scores:batch"]
    assert key.expiry_date is not None
    assert key.expiry_date > timezone.now() + timedelta(days=29)
    assert plaintext not in err.getvalue()


def test_if_the_organization_is_unknown_then_issue_api_key_refuses(db):
    with pytest.raises(CommandError, match="No active organization"):
        call_command("issue_api_key", "nobody", "--name", "x", stdout=StringIO())
