"""accounts.services.api_key_charge and api_key_usage_get: counting a key's requests, and
learning from the counter item that the key changed elsewhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from accounts import rate_limits
from accounts.constants import Scope
from accounts.exceptions import (
    ApiKeyExpired,
    ApiKeyRevoked,
    OrganizationInactive,
    QuotaExceeded,
    RateLimited,
    RequestExceedsLimits,
)
from accounts.models import ApiKey, Organization
from accounts.selectors import recent_keys
from accounts.services import (
    api_key_announcement_key,
    api_key_authenticate,
    api_key_charge,
    api_key_confirm,
    api_key_usage_get,
)
from devstack.services import free_port

pytestmark = pytest.mark.usefixtures("score_table")

NOON = datetime(2026, 11, 23, 12, 0, 15, tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
def recent_key(issue_key):
    """A key as this process holds it after authenticating it: (copy, plaintext)."""
    _, plaintext = issue_key(rate_limit_per_minute=3, daily_quota=5)
    return api_key_authenticate(plaintext), plaintext


def changed_elsewhere(key, **changes):
    """What another instance's service does: change the row, then announce its version."""
    ApiKey.objects.filter(pk=key.pk).update(version=key.version + 1, **changes)
    rate_limits.announce_key_versions({key.prefix: key.version + 1})


def test_if_a_request_fits_then_it_is_counted_without_a_query(
    recent_key, django_assert_num_queries, dynamodb_calls
):
    key, _ = recent_key
    api_key_charge(api_key=key, units=1)  # opens the key's windows
    dynamodb_calls.clear()

    with django_assert_num_queries(0):
        metered = api_key_charge(api_key=key, units=2)

    assert metered.api_key is key
    assert (metered.usage.minute_used, metered.usage.day_remaining) == (3, 2)
    assert dynamodb_calls == ["UpdateItem"]


def test_if_the_minute_is_used_up_then_rate_limited_says_when_it_resets(recent_key):
    key, _ = recent_key
    with time_machine.travel(NOON, tick=False):
        for _ in range(3):
            api_key_charge(api_key=key, units=1)
        with pytest.raises(RateLimited) as refused:
            api_key_charge(api_key=key, units=1)

    usage = refused.value.usage
    assert refused.value.resets_in_seconds == 45
    assert usage is not None
    assert usage.minute_remaining == 0


def test_if_the_day_is_used_up_then_quota_exceeded_says_when_it_resets(recent_key):
    key, _ = recent_key
    with time_machine.travel(NOON, tick=False) as traveller:
        api_key_charge(api_key=key, units=3)
        traveller.shift(60)
        api_key_charge(api_key=key, units=2)
        traveller.shift(60)
        with pytest.raises(QuotaExceeded) as refused:
            api_key_charge(api_key=key, units=1)

    assert refused.value.resets_in_seconds == 12 * 3600 - 2 * 60 - 15


@pytest.mark.parametrize(
    ("units", "message"),
    [
        pytest.param(4, "at most 3 per minute", id="more-than-a-minute-s-worth"),
        pytest.param(6, "at most 3 per minute", id="more-than-both"),
    ],
)
def test_if_a_request_could_never_fit_then_it_is_refused_without_counting(
    recent_key, dynamodb_calls, units, message
):
    with pytest.raises(RequestExceedsLimits, match=message):
        api_key_charge(api_key=recent_key[0], units=units)

    assert dynamodb_calls == []


def test_if_a_request_is_larger_than_the_daily_quota_then_the_message_names_it(issue_key):
    key, _ = issue_key(rate_limit_per_minute=100, daily_quota=50)

    with pytest.raises(RequestExceedsLimits, match="at most 50 per day"):
        api_key_charge(api_key=key, units=60)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        pytest.param({"revoked": True, "revoked_at": timezone.now()}, ApiKeyRevoked, id="revoked"),
        pytest.param({"expiry_date": timezone.now()}, ApiKeyExpired, id="expired"),
    ],
)
def test_if_the_key_was_refused_elsewhere_then_the_next_charge_re_reads_and_refuses_it(
    recent_key, django_assert_num_queries, changes, refusal
):
    key, _ = recent_key
    changed_elsewhere(key, **changes)

    with django_assert_num_queries(1), pytest.raises(refusal):  # the key, read again
        api_key_charge(api_key=key, units=1)


def test_if_the_organization_was_deactivated_elsewhere_then_the_next_charge_refuses_the_key(
    recent_key,
):
    key, _ = recent_key
    Organization.objects.filter(pk=key.organization_id).update(is_active=False)
    changed_elsewhere(key)

    with pytest.raises(OrganizationInactive):
        api_key_charge(api_key=key, units=1)


def test_if_the_key_changed_elsewhere_then_this_process_holds_the_new_row_from_then_on(
    recent_key, django_assert_num_queries
):
    key, plaintext = recent_key
    changed_elsewhere(key, scopes=[Scope.SCORES_BATCH], rate_limit_per_minute=50)

    metered = api_key_charge(api_key=key, units=1)

    assert (metered.api_key.scopes, metered.api_key.version) == ([Scope.SCORES_BATCH], 2)
    with django_assert_num_queries(0):
        assert api_key_authenticate(plaintext).rate_limit_per_minute == 50


def test_if_an_announced_version_is_not_newer_than_the_copy_then_nothing_is_read(
    recent_key, django_assert_num_queries
):
    key, _ = recent_key
    rate_limits.announce_key_versions({key.prefix: key.version})

    with django_assert_num_queries(0):
        assert api_key_charge(api_key=key, units=1).api_key is key


def test_if_a_refused_key_is_over_its_limit_too_then_the_refusal_of_the_key_wins(recent_key):
    key, _ = recent_key
    api_key_charge(api_key=key, units=3)
    changed_elsewhere(key, revoked=True, revoked_at=timezone.now())
    rate_limits.leases.clear()  # another process, which asks DynamoDB

    with pytest.raises(ApiKeyRevoked):
        api_key_charge(api_key=key, units=1)


def test_if_a_key_s_announcement_is_read_then_a_change_made_elsewhere_is_applied(
    recent_key, dynamodb, score_table
):
    key, _ = recent_key
    api_key_charge(api_key=key, units=3)
    changed_elsewhere(key, revoked=True, revoked_at=timezone.now())
    announcement = api_key_announcement_key(api_key=key)
    assert announcement is not None
    item = dynamodb.get_item(TableName=score_table, Key={"pk": {"S": announcement}})["Item"]

    with pytest.raises(RateLimited):  # this process's lease knows the minute is used up
        api_key_charge(api_key=key, units=1)
    with pytest.raises(ApiKeyRevoked):
        api_key_confirm(api_key=key, items={announcement: item})


def test_if_a_key_s_announcement_was_read_a_moment_ago_then_it_is_not_read_again(
    recent_key, monotonic
):
    key, _ = recent_key

    first = api_key_announcement_key(api_key=key)
    monotonic.advance(0.9)
    again = api_key_announcement_key(api_key=key)
    monotonic.advance(0.1)
    a_second_later = api_key_announcement_key(api_key=key)
    api_key_confirm(api_key=key, items=None)  # that read failed
    after_a_failed_read = api_key_announcement_key(api_key=key)

    assert first == a_second_later == after_a_failed_read == f"key#{key.prefix}"
    assert again is None


def test_if_dynamodb_is_unreachable_then_requests_are_counted_by_this_process(recent_key, settings):
    key, _ = recent_key
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"

    results = [api_key_charge(api_key=key, units=1) for _ in range(3)]

    assert [metered.usage.shared for metered in results] == [False] * 3
    with pytest.raises(RateLimited):
        api_key_charge(api_key=key, units=1)


def test_if_usage_is_read_then_nothing_is_counted(recent_key, dynamodb_calls):
    key, _ = recent_key
    api_key_charge(api_key=key, units=2)

    first = api_key_usage_get(api_key=key)
    second = api_key_usage_get(api_key=key)

    assert (first.usage.minute_used, second.usage.minute_used) == (2, 2)
    assert dynamodb_calls[-2:] == ["GetItem", "GetItem"]


def test_if_usage_is_read_for_a_key_revoked_elsewhere_then_it_is_refused(recent_key):
    key, _ = recent_key
    changed_elsewhere(key, revoked=True, revoked_at=timezone.now())

    with pytest.raises(ApiKeyRevoked):
        api_key_usage_get(api_key=key)
    stored = recent_keys.get(key.prefix)
    assert stored is not None
    assert stored.revoked
