"""The per-key counters against the local DynamoDB endpoint (real HTTP, real botocore)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts import rate_limits
from accounts.rate_limits import Limits, Refusal
from devstack.faults import http_proxy
from devstack.services import free_port

pytestmark = pytest.mark.usefixtures("score_table")

PREFIX = "Abcd1234"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# 12:00:15 in São Paulo (15:00:15 UTC): 45 s left in the minute, 12 h in the quota day.
NOON = datetime(2026, 11, 23, 12, 0, 15, tzinfo=SAO_PAULO)


@pytest.fixture(autouse=True)
def _away_from_a_minute_boundary():
    """Start every test at NOON with the clock running (45 s before the minute turns).

    Tests that do not pin the time themselves would otherwise fail when the real minute
    turns between two counts; those that do travel elsewhere override this.
    """
    with time_machine.travel(NOON, tick=True):
        yield


def at(*args):
    """Freeze the wall clock at a São Paulo time (args as for datetime)."""
    return time_machine.travel(datetime(*args).replace(tzinfo=SAO_PAULO), tick=False)


def counter_item(dynamodb, table, prefix=PREFIX):
    return dynamodb.get_item(
        TableName=table, Key={"pk": {"S": f"key#{prefix}"}}, ConsistentRead=True
    ).get("Item")


def count(units=1, per_minute=60, per_day=1000, prefix=PREFIX):
    return rate_limits.count(prefix, units=units, limits=Limits(per_minute, per_day))


def warnings_logged(log_output):
    return [
        (line["message"], line.get("error")) for line in log_output() if line["level"] == "WARNING"
    ]


# ---------------------------------------------------------------------------------------
# Counting, shared through DynamoDB
# ---------------------------------------------------------------------------------------
def test_if_requests_fit_then_each_is_counted_in_the_minute_and_the_day(dynamodb_calls):
    with time_machine.travel(NOON, tick=False):
        first = count(units=1)
        second = count(units=10)

    assert (first.refused, second.refused) == (None, None)
    assert (second.usage.minute_used, second.usage.day_used, second.usage.shared) == (11, 11, True)
    assert (second.usage.minute_remaining, second.usage.day_remaining) == (49, 989)
    # The key's first request opens its windows in its one call.
    assert dynamodb_calls == ["UpdateItem", "UpdateItem"]


def test_if_a_request_is_counted_then_the_item_holds_the_windows_and_a_ttl(dynamodb, score_table):
    with time_machine.travel(NOON, tick=False):
        count(units=3)

    item = counter_item(dynamodb, score_table)
    end_of_day = datetime(2026, 11, 24, tzinfo=SAO_PAULO).timestamp()
    assert item["minute"] == {"N": str(int(NOON.timestamp()) // 60)}
    assert item["day"] == {"S": "2026-11-23"}
    assert (item["minute_used"], item["day_used"]) == ({"N": "3"}, {"N": "3"})
    assert int(item["expires_at"]["N"]) == end_of_day + 3600


def test_if_the_minute_limit_is_reached_then_the_next_request_is_refused_and_not_counted(
    dynamodb, score_table
):
    with time_machine.travel(NOON, tick=False):
        allowed = [count(per_minute=3) for _ in range(3)]
        refused = count(per_minute=3)
        bigger = count(per_minute=3, units=2)

    assert [result.refused for result in allowed] == [None] * 3
    assert (refused.refused, bigger.refused) == (Refusal.RATE_LIMIT, Refusal.RATE_LIMIT)
    assert (refused.usage.minute_used, refused.usage.minute_remaining) == (3, 0)
    assert refused.usage.minute_reset_seconds == 45
    assert counter_item(dynamodb, score_table)["minute_used"] == {"N": "3"}


def test_if_a_batch_does_not_fit_in_what_is_left_then_it_is_refused_whole():
    with time_machine.travel(NOON, tick=False):
        count(units=8, per_minute=10)
        refused = count(units=3, per_minute=10)
        fits = count(units=2, per_minute=10)

    assert (refused.refused, fits.refused) == (Refusal.RATE_LIMIT, None)
    assert fits.usage.minute_used == 10


def test_if_a_new_minute_starts_then_its_count_starts_again_but_the_day_s_goes_on(dynamodb_calls):
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(3):
            count(per_minute=3)
        dynamodb_calls.clear()
        traveller.shift(45)  # 12:01:00

        result = count(per_minute=3)

    assert result.refused is None
    assert (result.usage.minute_used, result.usage.day_used) == (1, 4)
    assert dynamodb_calls == ["UpdateItem", "UpdateItem"]  # refused as old, then opened


def test_if_the_daily_quota_is_used_up_then_requests_are_refused_in_every_minute_until_midnight():
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(5):
            count(per_day=5)
            traveller.shift(60)
        next_minute = count(per_day=5)
        traveller.move_to(datetime(2026, 11, 23, 23, 59, 59, tzinfo=SAO_PAULO))
        before_midnight = count(per_day=5)
        traveller.move_to(datetime(2026, 11, 24, 0, 0, 1, tzinfo=SAO_PAULO))
        after_midnight = count(per_day=5)

    assert next_minute.refused is before_midnight.refused is Refusal.DAILY_QUOTA
    assert next_minute.usage.day_reset_seconds == 12 * 3600 - 5 * 60 - 15
    assert before_midnight.usage.day_reset_seconds == 1
    assert after_midnight.refused is None
    assert after_midnight.usage.day_used == 1


def test_if_utc_midnight_passes_then_the_quota_day_of_sao_paulo_goes_on():
    with at(2026, 11, 23, 20, 59, 30):  # 23:59:30 UTC
        count()
    with at(2026, 11, 23, 21, 0, 30):  # 00:00:30 UTC
        result = count()

    assert result.usage.day_used == 2


def test_if_both_limits_are_exceeded_then_the_quota_is_the_refusal_given():
    with time_machine.travel(NOON, tick=False):
        count(per_minute=2, per_day=2)
        count(per_minute=2, per_day=2)
        result = count(per_minute=2, per_day=2)

    assert result.refused is Refusal.DAILY_QUOTA


def test_if_another_instance_s_clock_opened_the_next_minute_then_this_one_counts_in_it(
    dynamodb, score_table
):
    next_minute = int(NOON.timestamp()) // 60 + 1
    dynamodb.put_item(
        TableName=score_table,
        Item={
            "pk": {"S": f"key#{PREFIX}"},
            "minute": {"N": str(next_minute)},
            "minute_used": {"N": "2"},
            "day": {"S": "2026-11-23"},
            "day_used": {"N": "7"},
        },
    )

    with time_machine.travel(NOON, tick=False):
        result = count()

    assert (result.usage.minute_used, result.usage.day_used) == (3, 8)
    assert counter_item(dynamodb, score_table)["minute"] == {"N": str(next_minute)}


def test_if_many_requests_race_for_a_fresh_key_then_exactly_the_limit_is_counted(
    dynamodb, score_table, settings
):
    # Patient timeouts: a request the serialized endpoint answers late is not retried (a
    # retried increment is counted twice: under the limit, never over it).
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 10
    results = []
    lock = threading.Lock()

    def request():
        result = count(per_minute=25)
        with lock:
            results.append(result.refused)

    with time_machine.travel(NOON, tick=False):
        threads = [threading.Thread(target=request) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert (results.count(None), results.count(Refusal.RATE_LIMIT)) == (25, 15)
    assert counter_item(dynamodb, score_table)["minute_used"] == {"N": "25"}


@pytest.mark.parametrize(
    ("units", "limits"),
    [
        pytest.param(0, Limits(10, 10), id="nothing"),
        pytest.param(11, Limits(10, 100), id="over-the-minute-limit"),
        pytest.param(11, Limits(100, 10), id="over-the-quota"),
    ],
)
def test_if_a_request_could_never_fit_then_counting_it_is_a_programming_error(units, limits):
    with pytest.raises(ValueError, match="cannot fit"):
        rate_limits.count(PREFIX, units=units, limits=limits)


def test_if_usage_is_peeked_then_nothing_is_counted(dynamodb_calls):
    with time_machine.travel(NOON, tick=False):
        count(units=4)
        peeked = rate_limits.peek(PREFIX, limits=Limits(60, 1000))
        again = rate_limits.peek(PREFIX, limits=Limits(60, 1000))

    assert (peeked.usage.minute_used, again.usage.day_used) == (4, 4)
    assert dynamodb_calls[-2:] == ["GetItem", "GetItem"]


def test_if_a_key_was_never_counted_then_its_usage_is_zero():
    peeked = rate_limits.peek("Zzzz9999", limits=Limits(60, 1000))

    assert (peeked.usage.minute_used, peeked.usage.day_used, peeked.key_version) == (0, 0, None)


# ---------------------------------------------------------------------------------------
# Leases: blocks sized to the key's rate, never over the limit
# ---------------------------------------------------------------------------------------
def test_if_a_key_with_a_high_limit_is_busy_then_a_block_is_written_about_once_a_second(
    dynamodb, score_table, dynamodb_calls, monotonic
):
    results = []
    with time_machine.travel(NOON, tick=False):
        for _ in range(300):  # 100 requests a second for 3 s
            results.append(count(per_minute=100_000, per_day=1_000_000))
            monotonic.advance(0.01)

    assert {result.refused for result in results} == {None}
    # The first request's block is its own unit; then each block covers about a second.
    assert dynamodb_calls == ["UpdateItem"] * 4
    assert [result.usage.minute_used for result in results[:3]] == [1, 2, 3]
    stored = counter_item(dynamodb, score_table)
    assert int(stored["minute_used"]["N"]) - 300 in range(101)  # the block not served yet


@pytest.mark.parametrize("per_minute", [1, 60, 199], ids=["1", "60", "199"])
def test_if_a_limit_is_small_then_every_request_is_counted_in_dynamodb_as_it_comes(
    dynamodb, score_table, dynamodb_calls, monotonic, per_minute
):
    with time_machine.travel(NOON, tick=False):
        results = [count(per_minute=per_minute) for _ in range(per_minute)]
        monotonic.advance(0.01)

    assert dynamodb_calls == ["UpdateItem"] * per_minute
    assert counter_item(dynamodb, score_table)["minute_used"] == {"N": str(per_minute)}
    assert results[-1].usage.minute_remaining == 0


def test_if_a_lease_is_used_up_then_later_requests_are_refused_without_a_call(
    dynamodb_calls, monotonic
):
    with time_machine.travel(NOON, tick=False):
        served = [count(per_minute=3) for _ in range(3)]
        refused = [count(per_minute=3) for _ in range(5)]

    assert [result.refused for result in served + refused] == [None] * 3 + [Refusal.RATE_LIMIT] * 5
    assert refused[0].usage.minute_used == 3
    assert dynamodb_calls == ["UpdateItem"] * 3


def test_if_a_batch_was_refused_then_a_smaller_one_that_fits_with_the_lease_is_served(
    dynamodb, score_table, monotonic
):
    limits = {"per_minute": 300, "per_day": 10_000}  # blocks of at most 3
    with time_machine.travel(NOON, tick=False):
        count(**limits)  # counted alone
        monotonic.advance(0.001)
        count(**limits)  # a block of 3: 2 held
        dynamodb.update_item(  # another process takes all but one of the rest
            TableName=score_table,
            Key={"pk": {"S": f"key#{PREFIX}"}},
            UpdateExpression="ADD minute_used :n, day_used :n",
            ExpressionAttributeValues={":n": {"N": "295"}},
        )
        refused = count(units=4, **limits)  # the 2 held and 1 left: no room for 4
        served = count(units=3, **limits)  # the 2 held and the last one

    assert (refused.refused, served.refused) == (Refusal.RATE_LIMIT, None)
    assert counter_item(dynamodb, score_table)["minute_used"] == {"N": "300"}
    assert served.usage.minute_remaining == 0


def test_if_a_block_is_left_unserved_when_the_minute_turns_then_the_day_gets_it_back(
    dynamodb, score_table, monotonic
):
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(100):
            count(per_minute=10_000, per_day=100_000)
            monotonic.advance(0.01)
        leased = int(counter_item(dynamodb, score_table)["day_used"]["N"])
        traveller.shift(45)  # 12:01:00
        result = count(per_minute=10_000, per_day=100_000)

    assert leased > 100  # a block was held, not all served
    stored = counter_item(dynamodb, score_table)
    # The day counts what was served and what is leased now, not the old minute's rest.
    assert int(stored["day_used"]["N"]) == 100 + int(stored["minute_used"]["N"])
    assert result.usage.day_used == 101


def test_if_two_processes_lease_one_key_concurrently_then_exactly_the_limit_is_served(
    dynamodb, score_table, settings, monkeypatch
):
    """Two processes' leases (threads of each share one), one counter item, 1,600 requests
    for a limit of 1,000 a minute (blocks of up to 10): exactly 1,000 served."""
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 10  # see the race above: no retried increments
    processes = [rate_limits.Leases(), rate_limits.Leases()]
    of_thread = threading.local()

    class ThisThreadsProcess:
        def __getattr__(self, name):
            return getattr(processes[getattr(of_thread, "process", 0)], name)

    monkeypatch.setattr(rate_limits, "leases", ThisThreadsProcess())
    served = []
    lock = threading.Lock()

    def requests(process):
        of_thread.process = process
        for _ in range(100):
            result = count(per_minute=1000, per_day=10_000)
            with lock:
                served.append(result.refused is None)

    with time_machine.travel(NOON, tick=False):
        threads = [threading.Thread(target=requests, args=(n % 2,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert served.count(True) == 1000
    assert counter_item(dynamodb, score_table)["minute_used"] == {"N": "1000"}


def test_if_threads_of_one_process_share_a_lease_with_batches_then_never_more_is_served(
    dynamodb, score_table, settings
):
    """Requests of 1 and 3 units in 8 threads of one process, 2,000 units asked for a limit
    of 1,000 a minute: a request the lease cannot cover claims what is left of it, so no
    unit is served twice, and the item counts every unit served."""
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 10  # no retried increments (see above)
    served = []
    lock = threading.Lock()

    def requests(units):
        for _ in range(2000 // 8 // units):
            result = count(units=units, per_minute=1000, per_day=10_000)
            with lock:
                served.append(units if result.refused is None else 0)

    with time_machine.travel(NOON, tick=False):
        threads = [threading.Thread(target=requests, args=(1 + 2 * (n % 2),)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    counted = int(counter_item(dynamodb, score_table)["minute_used"]["N"])
    assert sum(served) <= counted == 1000


# ---------------------------------------------------------------------------------------
# Key versions
# ---------------------------------------------------------------------------------------
def test_if_a_key_version_is_announced_then_counting_and_peeking_return_it():
    before = count()

    assert rate_limits.announce_key_versions({PREFIX: 3}) == 0
    counted = count()
    peeked = rate_limits.peek(PREFIX, limits=Limits(60, 1000))

    assert before.key_version is None
    assert (counted.key_version, peeked.key_version) == (3, 3)
    assert counted.usage.day_used == 2  # the stamp left the counts alone


def test_if_a_key_never_counted_is_announced_then_its_first_request_opens_the_windows():
    rate_limits.announce_key_versions({PREFIX: 2})

    result = count()

    assert (result.refused, result.key_version, result.usage.minute_used) == (None, 2, 1)


def test_if_an_older_version_is_announced_late_then_the_newer_one_stays():
    rate_limits.announce_key_versions({PREFIX: 5})

    assert rate_limits.announce_key_versions({PREFIX: 4}) == 0

    assert rate_limits.peek(PREFIX, limits=Limits(60, 1000)).key_version == 5


def test_if_a_refused_request_meets_a_new_version_then_the_version_is_returned_too():
    count(per_minute=1)
    rate_limits.announce_key_versions({PREFIX: 7})
    rate_limits.leases.clear()  # another process, which asks DynamoDB

    result = count(per_minute=1)

    assert (result.refused, result.key_version) == (Refusal.RATE_LIMIT, 7)


# ---------------------------------------------------------------------------------------
# A compatible store that refuses a condition without the item: never fail open
# ---------------------------------------------------------------------------------------
@pytest.fixture
def older_store(settings, score_table):
    """The local endpoint as dynalite answers: refused conditions without the stored item
    (whatever ReturnValuesOnConditionCheckFailure asks), and no x-amz-crc32 header."""
    with http_proxy(settings.DYNAMODB_ENDPOINT_URL) as proxy:
        proxy.older_store = True
        settings.DYNAMODB_ENDPOINT_URL = proxy.url
        yield proxy


def test_if_the_store_refuses_without_the_item_then_the_limit_holds_and_is_shared(
    older_store, dynamodb_calls, log_output
):
    with time_machine.travel(NOON, tick=False) as traveller:
        results = [count(per_minute=5) for _ in range(5)]
        for _ in range(2):
            rate_limits.leases.clear()  # another process, which asks DynamoDB
            results.append(count(per_minute=5))
        traveller.shift(45)  # 12:01:00
        next_minute = count(per_minute=5)

    assert [result.refused for result in results] == [None] * 5 + [Refusal.RATE_LIMIT] * 2
    assert {result.usage.shared for result in results} == {True}
    assert (results[-1].usage.minute_used, next_minute.refused) == (5, None)
    assert (next_minute.usage.minute_used, next_minute.usage.day_used) == (1, 6)
    # Each refusal is read back (a consistent GetItem), never taken for a new item.
    assert dynamodb_calls == ["UpdateItem"] * 5 + ["UpdateItem", "GetItem"] * 3 + ["UpdateItem"]
    assert warnings_logged(log_output) == []


def test_if_the_store_refuses_without_the_item_then_a_refusal_still_carries_the_key_version(
    older_store,
):
    count(per_minute=1)
    rate_limits.announce_key_versions({PREFIX: 7})
    rate_limits.leases.clear()  # another process, which asks DynamoDB

    result = count(per_minute=1)

    assert (result.refused, result.key_version, result.usage.shared) == (
        Refusal.RATE_LIMIT,
        7,
        True,
    )


# ---------------------------------------------------------------------------------------
# DynamoDB unavailable: per-process counting, one warning per cool-down
# ---------------------------------------------------------------------------------------
@pytest.fixture
def unreachable_dynamodb(settings):
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"


def test_if_dynamodb_is_unreachable_then_this_process_counts_with_the_same_limits(
    unreachable_dynamodb, dynamodb_calls, log_output
):
    results = [count(per_minute=2) for _ in range(3)]

    assert [result.refused for result in results] == [None, None, Refusal.RATE_LIMIT]
    assert {result.usage.shared for result in results} == {False}
    assert dynamodb_calls == ["UpdateItem", "UpdateItem"]  # two attempts, then the cool-down
    assert warnings_logged(log_output) == [
        (
            "rate-limit counters unavailable; counting per process for 5.0s",
            "EndpointConnectionError",
        )
    ]


def test_if_the_cool_down_ends_then_the_counters_are_tried_again_and_warned_about_again(
    unreachable_dynamodb, dynamodb_calls, log_output, monotonic
):
    count()
    monotonic.advance(4.9)
    count()  # still cooling down: not sent, not logged
    monotonic.advance(0.2)

    count()

    assert dynamodb_calls == ["UpdateItem"] * 4
    assert len(warnings_logged(log_output)) == 2


def test_if_dynamodb_is_unreachable_then_peeking_shows_this_process_s_counts(
    unreachable_dynamodb,
):
    count(units=3)

    peeked = rate_limits.peek(PREFIX, limits=Limits(60, 1000))

    assert (peeked.usage.minute_used, peeked.usage.shared, peeked.key_version) == (3, False, None)


def test_if_an_announcement_fails_then_it_is_reported_and_logged(unreachable_dynamodb, log_output):
    assert rate_limits.announce_key_versions({PREFIX: 2, "Other123": 4}) == 2

    assert [message for message, _ in warnings_logged(log_output)] == [
        "API key change not announced to other instances; they apply it within 30s"
    ] * 2


def test_if_the_counter_item_has_a_foreign_shape_then_counting_falls_back(
    dynamodb, score_table, log_output
):
    dynamodb.put_item(
        TableName=score_table, Item={"pk": {"S": f"key#{PREFIX}"}, "minute": {"S": "soon"}}
    )

    result = count()

    assert (result.refused, result.usage.shared) == (None, False)
    assert warnings_logged(log_output) == [
        (
            "rate-limit counters unavailable; counting per process for 5.0s",
            "UnexpectedCounterItem:KeyError",
        )
    ]
