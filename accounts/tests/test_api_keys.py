"""API keys: issue, store, authenticate, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from accounts.authentication import presented_key, presented_key_prefix
from accounts.constants import LifecycleAction, Scope
from accounts.exceptions import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    ExpiryNotInFuture,
    OrganizationInactive,
)
from accounts.models import ApiKey, KeyLifecycleEvent
from accounts.selectors import recent_keys
from accounts.services import (
    api_key_authenticate,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
    organization_update,
)

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


def test_if_this_process_revokes_a_recently_used_key_then_it_is_refused_once_committed(
    api_key, django_capture_on_commit_callbacks
):
    api_key_authenticate(api_key[1])

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=api_key[0])

    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(api_key[1])


def test_if_another_thread_reads_the_key_before_the_revocation_commits_then_it_is_still_forgotten(
    api_key, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    api_key_authenticate(plaintext)
    read_before_commit = ApiKey.objects.select_related("organization").get(pk=key.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_key_revoke(api_key=key)
    recent_keys.put(read_before_commit)  # the other thread caches the row it read
    for callback in callbacks:  # the commit
        callback()

    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(plaintext)


def test_if_only_authentication_sees_a_key_then_a_change_elsewhere_applies_within_the_cache_time(
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
    revoked = api_key_revoke(api_key=api_key[0], actor=admin_user)

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
    key, plaintext = issue_key(expiry_date=timezone.now() + timedelta(days=1))
    api_key_revoke(api_key=key)

    with time_machine.travel(timezone.now() + timedelta(days=2)), pytest.raises(ApiKeyRevoked):
        api_key_authenticate(plaintext)


NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expiry_date",
    [
        pytest.param(datetime(2020, 1, 1, tzinfo=UTC), id="2020"),
        pytest.param(NOW - timedelta(seconds=1), id="a-second-ago"),
        pytest.param(NOW, id="this-instant"),
    ],
)
def test_if_a_key_would_be_issued_already_expired_then_it_is_refused_and_nothing_recorded(
    issue_key, expiry_date
):
    with time_machine.travel(NOW, tick=False), pytest.raises(ExpiryNotInFuture):
        issue_key(expiry_date=expiry_date)

    assert not ApiKey.objects.exists()
    assert not KeyLifecycleEvent.objects.exists()


def test_if_a_key_s_expiry_is_moved_into_the_past_then_it_is_refused_and_nothing_changes(
    issue_key,
):
    with time_machine.travel(NOW, tick=False):
        key, _plaintext = issue_key(expiry_date=NOW + timedelta(days=30))

    with time_machine.travel(NOW, tick=False), pytest.raises(ExpiryNotInFuture):
        api_key_update(
            api_key=key, name=key.name, scopes=key.scopes, expiry_date=NOW - timedelta(days=1)
        )

    key.refresh_from_db()
    assert (key.expiry_date, key.version) == (NOW + timedelta(days=30), 1)
    assert not KeyLifecycleEvent.objects.filter(action=LifecycleAction.KEY_CHANGED).exists()


def test_if_an_expired_key_is_changed_otherwise_then_its_past_expiry_stays(issue_key):
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        key, _plaintext = issue_key(expiry_date=NOW - timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        changed = api_key_update(
            api_key=key, name="renamed", scopes=key.scopes, expiry_date=key.expiry_date
        )

    assert (changed.name, changed.expiry_date) == ("renamed", NOW - timedelta(days=1))


def test_if_an_expired_key_gets_a_future_expiry_then_it_works_again(issue_key):
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        key, plaintext = issue_key(expiry_date=NOW - timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        api_key_update(
            api_key=key, name=key.name, scopes=key.scopes, expiry_date=NOW + timedelta(days=1)
        )
        assert api_key_authenticate(plaintext).prefix == key.prefix


def test_if_an_expired_key_is_rotated_then_it_is_refused(issue_key):
    """Its replacement would be issued expired: change its expiry first, or issue a key."""
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        key, _plaintext = issue_key(expiry_date=NOW - timedelta(days=1))

    with time_machine.travel(NOW, tick=False), pytest.raises(ExpiryNotInFuture):
        api_key_rotate(api_key=key)

    assert ApiKey.objects.count() == 1


def test_if_a_key_is_rotated_with_no_grace_then_the_old_key_ends_now(issue_key):
    """Ending the old key at once is what a rotation without grace means (a leaked key
    replaced): the rule is about the keys issued, not about the one rotated out."""
    key, plaintext = issue_key()

    with time_machine.travel(NOW, tick=False):
        new, _new_plaintext = api_key_rotate(api_key=key, grace=timedelta(0))
    key.refresh_from_db()

    assert (key.expiry_date, new.expiry_date) == (NOW, None)
    with time_machine.travel(NOW + timedelta(seconds=1)), pytest.raises(ApiKeyExpired):
        api_key_authenticate(plaintext)


@pytest.mark.parametrize("days", ["0", "-30"])
def test_if_issue_api_key_is_given_an_expiry_in_the_past_then_it_refuses(organization, days):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("issue_api_key", organization.slug, "--name", "x", "--expires-in-days", days)

    assert not ApiKey.objects.exists()


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


# ---------------------------------------------------------------------------------------
# Limits, versions and their announcement to every instance
# ---------------------------------------------------------------------------------------
def counter_item(dynamodb, table, prefix):
    return dynamodb.get_item(
        TableName=table, Key={"pk": {"S": f"key#{prefix}"}}, ConsistentRead=True
    ).get("Item", {})


def test_if_a_key_is_issued_without_limits_then_it_gets_the_configured_defaults(
    issue_key, settings
):
    settings.API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE = 120
    settings.API_KEY_DEFAULT_DAILY_QUOTA = 5000

    key, _ = issue_key()

    key.refresh_from_db()
    assert (key.rate_limit_per_minute, key.daily_quota, key.version) == (120, 5000, 1)


def test_if_a_key_is_issued_with_limits_then_it_keeps_them(issue_key):
    key, _ = issue_key(rate_limit_per_minute=60, daily_quota=1000)

    key.refresh_from_db()
    assert (key.rate_limit_per_minute, key.daily_quota) == (60, 1000)


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({"rate_limit_per_minute": 0}, id="no-requests-per-minute"),
        pytest.param({"daily_quota": 0}, id="no-quota"),
        pytest.param({"daily_quota": -5}, id="negative-quota"),
    ],
)
def test_if_limits_are_not_positive_then_the_key_is_not_issued(issue_key, limits):
    with pytest.raises(ValidationError):
        issue_key(**limits)

    assert not ApiKey.objects.exists()


def test_if_limits_are_not_positive_in_sql_then_the_database_refuses(api_key):
    with pytest.raises(DatabaseError, match="apikey_limits_positive"), transaction.atomic():
        ApiKey.objects.filter(pk=api_key[0].pk).update(daily_quota=0)


def test_if_a_key_is_updated_then_its_new_version_is_announced_only_after_commit(
    api_key, score_table, dynamodb, django_capture_on_commit_callbacks
):
    key, _ = api_key

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_key_update(
            api_key=key, name="x", scopes=[Scope.SCORES_READ], expiry_date=None, daily_quota=9
        )
    before_commit = counter_item(dynamodb, score_table, key.prefix)
    for callback in callbacks:
        callback()

    assert "key_version" not in before_commit
    assert counter_item(dynamodb, score_table, key.prefix)["key_version"] == {"N": "2"}
    key.refresh_from_db()
    assert (key.version, key.daily_quota, key.rate_limit_per_minute) == (2, 9, 600)


def test_if_a_key_is_revoked_then_its_new_version_is_announced(
    api_key, score_table, dynamodb, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        revoked = api_key_revoke(api_key=api_key[0])
        api_key_revoke(api_key=api_key[0])  # again: nothing changes, nothing announced

    assert revoked.version == 2
    assert counter_item(dynamodb, score_table, revoked.prefix)["key_version"] == {"N": "2"}


def test_if_a_revocation_rolls_back_then_nothing_is_announced_and_the_key_works(
    api_key, django_capture_on_commit_callbacks
):
    def revoke_then_fail():
        with transaction.atomic():
            api_key_revoke(api_key=api_key[0])
            raise RuntimeError("the surrounding work failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        revoke_then_fail()

    assert callbacks == []
    assert api_key_authenticate(api_key[1]).version == 1


def test_if_an_organization_is_deactivated_then_its_live_keys_get_new_versions_announced(
    issue_key, organization, score_table, dynamodb, django_capture_on_commit_callbacks
):
    live, plaintext = issue_key(name="live")
    revoked, _ = issue_key(name="revoked")
    api_key_revoke(api_key=revoked)
    api_key_authenticate(plaintext)  # a recent key of this process

    with django_capture_on_commit_callbacks(execute=True):
        updated = organization_update(organization=organization, data={"is_active": False})

    live.refresh_from_db()
    revoked.refresh_from_db()
    assert (updated.is_active, live.version, revoked.version) == (False, 2, 2)
    assert counter_item(dynamodb, score_table, live.prefix)["key_version"] == {"N": "2"}
    with pytest.raises(OrganizationInactive):
        api_key_authenticate(plaintext)


def test_if_an_organization_is_reactivated_then_its_keys_work_again(
    api_key, organization, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        organization_update(organization=organization, data={"is_active": False})
        organization_update(organization=organization, data={"is_active": True})

    key = api_key_authenticate(api_key[1])

    assert key.version == 3


def test_if_an_organization_is_only_renamed_then_its_keys_keep_their_versions(
    api_key, organization, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        updated = organization_update(
            organization=organization, data={"name": "Banco Renomeado", "slug": "ignored-no"}
        )

    api_key[0].refresh_from_db()
    assert (updated.name, updated.slug, api_key[0].version) == ("Banco Renomeado", "ignored-no", 1)
    assert callbacks == []


def test_if_an_organization_update_is_invalid_then_nothing_changes(organization):
    with pytest.raises(ValidationError):
        organization_update(organization=organization, data={"slug": "not a slug!"})

    organization.refresh_from_db()
    assert organization.slug == "banco-exemplo"


def test_if_issue_api_key_is_given_limits_then_the_key_has_them(organization):
    out = StringIO()

    call_command(
        "issue_api_key",
        organization.slug,
        "--name",
        "portfolio",
        "--rate-limit-per-minute",
        "300",
        "--daily-quota",
        "20000",
        stdout=out,
        stderr=StringIO(),
    )

    key = api_key_authenticate(out.getvalue().strip())
    assert (key.rate_limit_per_minute, key.daily_quota) == (300, 20000)


def test_if_issue_api_key_is_given_a_zero_limit_then_it_refuses(organization):
    with pytest.raises(CommandError):
        call_command(
            "issue_api_key",
            organization.slug,
            "--name",
            "x",
            "--daily-quota",
            "0",
            stdout=StringIO(),
        )

    assert not ApiKey.objects.exists()


def test_if_issue_api_key_gets_every_setting_then_the_key_has_them_and_it_is_recorded(
    organization,
):
    out, err = StringIO(), StringIO()

    call_command(
        "issue_api_key",
        organization.slug,
        "--name",
        "card issuing",
        "--allowed-network",
        "192.0.2.0/24",
        "--allowed-network",
        "2001:db8::/32",
        "--default-purpose",
        "fraud_prevention",
        "--rate-limit-per-minute",
        "30",
        "--daily-quota",
        "900",
        stdout=out,
        stderr=err,
    )

    key = ApiKey.objects.get()
    assert key.allowed_networks == ["192.0.2.0/24", "2001:db8::/32"]
    assert (key.default_purpose, key.rate_limit_per_minute, key.daily_quota) == (
        "fraud_prevention",
        30,
        900,
    )
    event = KeyLifecycleEvent.objects.get()
    assert (event.action, event.actor, event.actor_name) == (
        LifecycleAction.KEY_ISSUED,
        None,
        "manage.py issue_api_key",
    )


def test_if_issue_api_key_gets_a_bad_network_then_it_refuses_naming_it(organization):
    with pytest.raises(CommandError, match=r"10\.0\.0\.0/8"):
        call_command(
            "issue_api_key",
            organization.slug,
            "--name",
            "x",
            "--allowed-network",
            "10.0.0.1/8",
            stdout=StringIO(),
            stderr=StringIO(),
        )

    assert not ApiKey.objects.exists()


def test_if_rotate_api_key_runs_then_it_prints_a_new_working_key_and_the_old_expires(api_key):
    old, old_plaintext = api_key
    out, err = StringIO(), StringIO()

    call_command("rotate_api_key", old.prefix, "--grace-hours", "2", stdout=out, stderr=err)

    new_plaintext = out.getvalue().strip()
    new = api_key_authenticate(new_plaintext)
    assert new.replaces_id == old.pk
    assert api_key_authenticate(old_plaintext) == old  # still works, for 2 hours
    old.refresh_from_db()
    assert timedelta(hours=1, minutes=59) < old.expiry_date - timezone.now() <= timedelta(hours=2)
    assert new_plaintext not in err.getvalue()
    assert KeyLifecycleEvent.objects.filter(
        action=LifecycleAction.KEY_ROTATED, actor_name="manage.py rotate_api_key"
    ).exists()


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        pytest.param(lambda key: api_key_revoke(api_key=key), "revoked", id="revoked"),
        pytest.param(lambda key: api_key_rotate(api_key=key), "already rotated", id="rotated"),
    ],
)
def test_if_a_key_cannot_be_rotated_then_rotate_api_key_says_why(api_key, prepare, message):
    prepare(api_key[0])

    with pytest.raises(CommandError, match=message):
        call_command("rotate_api_key", api_key[0].prefix, stdout=StringIO(), stderr=StringIO())


def test_if_the_lifecycle_record_is_changed_in_sql_then_the_database_refuses(
    connected_as_owner, api_key
):
    # As the schema's owner: the trigger refuses even the role that may change every table
    # (the serving role has no UPDATE or DELETE on it at all).
    event = KeyLifecycleEvent.objects.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        KeyLifecycleEvent.objects.filter(pk=event.pk).update(actor_name="someone else")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        KeyLifecycleEvent.objects.filter(pk=event.pk).delete()

    assert KeyLifecycleEvent.objects.get().actor_name == ""
