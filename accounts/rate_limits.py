"""Per-key rate limits and daily quotas, counted across every instance.

The one module that reads and writes the per-key counter items (DynamoDB, in the score
cache's table under `key#<prefix>`): units leased to the process in blocks sized to the
key's rate (one conditional UpdateItem a block; a block of one request's units for a small
limit), the key's version read beside the score cache's items at most once a second, and a
per-process fallback when DynamoDB fails. How and why: docs/architecture.md, "Per-key
limits, key versions and the hot path".
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from scoreportal import aws_clients
from scoreportal.aws_clients import DynamoDBCallFailed, dynamodb_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

logger = logging.getLogger(__name__)

# The quota day is São Paulo's, whatever the servers' time zone.
QUOTA_TIME_ZONE = ZoneInfo("America/Sao_Paulo")
COUNTER_KEY_PREFIX = "key#"
_KEY_ATTRIBUTE = "pk"
_TTL_ATTRIBUTE = "expires_at"
# A counter item outlives its quota day by this much (DynamoDB's TTL deletion is lazy anyway).
_RETENTION_AFTER_DAY = timedelta(hours=1)
_CONDITION_FAILED = "ConditionalCheckFailedException"
# Rounds of "count, else open the windows": two instances may race to open a minute (the
# loser counts again), or another instance's clock may be a little ahead (count in its
# windows). Three rounds cover both; a fourth would mean something else is wrong.
_ROUNDS = 3
# A lease covers about this long of the process's recent rate for the key: about one write
# a second per busy process, whatever the rate.
LEASE_SECONDS = 1.0
# A lease is at most this share of the smaller limit, so the units a process may hold unused
# stay a small part of it; a limit under LEASE_SHARE * 2 is counted request by request.
LEASE_SHARE = 100
# How often a process reads a key's announced version (beside the score cache's items) while
# it serves the key from a lease: a change reaches it within this, plus one request.
VERSION_READ_SECONDS = 1.0
# What decoding a counter item of an unexpected shape raises.
_DECODE_FAILURES = (KeyError, TypeError, ValueError)

Item = Mapping[str, Any]

# The wall clock of the windows (tests move it with time_machine, or replace it).
wall_clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Limits:
    """A key's limits: units (CPFs) per minute, and per quota day."""

    per_minute: int
    per_day: int


@dataclass(frozen=True, slots=True)
class Windows:
    """The minute and the quota day an instant falls in."""

    now: float
    minute: int
    day: date

    @classmethod
    def at(cls, now: float) -> Windows:
        return cls(
            now=now, minute=int(now // 60), day=datetime.fromtimestamp(now, QUOTA_TIME_ZONE).date()
        )

    @property
    def minute_ends_at(self) -> float:
        return (self.minute + 1) * 60.0

    @property
    def day_ends_at(self) -> float:
        midnight = datetime.combine(self.day + timedelta(days=1), datetime.min.time())
        return midnight.replace(tzinfo=QUOTA_TIME_ZONE).timestamp()


@dataclass(frozen=True, slots=True)
class Usage:
    """A key's consumption in the current windows (after the request, when it was counted).

    `shared` is False when it was counted by this process alone (DynamoDB unavailable).
    """

    limits: Limits
    windows: Windows
    minute_used: int
    day_used: int
    shared: bool = True

    @property
    def minute_remaining(self) -> int:
        return max(0, self.limits.per_minute - self.minute_used)

    @property
    def day_remaining(self) -> int:
        return max(0, self.limits.per_day - self.day_used)

    @property
    def minute_reset_seconds(self) -> int:
        """Whole seconds until the minute's count starts again (at least 1)."""
        return max(1, math.ceil(self.windows.minute_ends_at - self.windows.now))

    @property
    def day_reset_seconds(self) -> int:
        """Whole seconds until the quota day's count starts again (at least 1)."""
        return max(1, math.ceil(self.windows.day_ends_at - self.windows.now))


class Refusal(enum.Enum):
    """Which limit a request did not fit in."""

    RATE_LIMIT = "rate_limit"
    DAILY_QUOTA = "daily_quota"


@dataclass(frozen=True, slots=True)
class Count:
    """What counting (or peeking) answered: the usage, whether the request was refused, and
    the key version on the counter item (None when it carries none, or was not reached)."""

    usage: Usage
    refused: Refusal | None = None
    key_version: int | None = None


class ProcessCounters:
    """The fallback while DynamoDB is unavailable: this process's own counters per key,
    with the same limits and windows. Bounded: the oldest key is dropped past MAX_KEYS."""

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int, date, int]] = {}
        self._lock = threading.Lock()

    def count(self, prefix: str, *, units: int, limits: Limits, windows: Windows) -> Count:
        with self._lock:
            minute_used, day_used = self._current(prefix, windows)
            refused = _refusal(minute_used, day_used, units=units, limits=limits)
            if refused is None:
                minute_used, day_used = minute_used + units, day_used + units
                self._counters.pop(prefix, None)  # re-inserted as the newest
                if len(self._counters) >= self.MAX_KEYS:
                    self._counters.pop(next(iter(self._counters)))
                self._counters[prefix] = (windows.minute, minute_used, windows.day, day_used)
        usage = Usage(limits, windows, minute_used, day_used, shared=False)
        return Count(usage, refused)

    def peek(self, prefix: str, *, limits: Limits, windows: Windows) -> Count:
        with self._lock:
            minute_used, day_used = self._current(prefix, windows)
        return Count(Usage(limits, windows, minute_used, day_used, shared=False))

    def clear(self) -> None:
        with self._lock:
            self._counters.clear()

    def _current(self, prefix: str, windows: Windows) -> tuple[int, int]:
        minute, minute_used, day, day_used = self._counters.get(prefix, (0, 0, windows.day, 0))
        return (
            minute_used if minute == windows.minute else 0,
            day_used if day == windows.day else 0,
        )


@dataclass(slots=True)
class _Lease:
    """Units of a key's current windows this process counted in DynamoDB ahead of serving
    them, and the counter item's counts as the last call saw them (leases included)."""

    limits: Limits
    minute: int
    day: date
    left: int  # leased and not served yet
    minute_used: int
    day_used: int
    granted_at: float  # monotonic
    served: int = 0  # units served since granted_at: the key's recent rate in this process

    def fits(self, units: int) -> bool:
        return units <= self.left

    def local_refusal(self, units: int) -> Refusal | None:
        """The refusal DynamoDB would give, known without asking: within one minute counts
        only grow, so the room the last call saw is the most there can be."""
        return _refusal(
            self.minute_used - self.left, self.day_used - self.left, units=units, limits=self.limits
        )

    def usage(self, windows: Windows, *, shared: bool = True) -> Usage:
        used = self.minute_used - self.left, self.day_used - self.left
        return Usage(self.limits, windows, *used, shared=shared)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request the lease cannot serve takes to DynamoDB: the units of the lease it
    claimed (nobody else serves them meanwhile), the block to count, and the units of an
    older minute's lease to give back to the day."""

    windows: Windows
    claimed: int
    block: int
    returned: int


class Leases:
    """This process's leases (one per key, bounded as ProcessCounters is) and when it last
    read each key's announced version."""

    MAX_KEYS = 4096

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._leases: dict[str, _Lease] = {}
        self._versions_read: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, prefix: str, *, units: int, limits: Limits, windows: Windows) -> Count | Claim:
        """Serve `units` from the key's lease, or refuse them as the lease knows it must (a
        Count); else what to ask DynamoDB for (a Claim).

        The block covers the request and about LEASE_SECONDS of the key's recent rate here,
        at most 1/LEASE_SHARE of the smaller limit. Units of an older minute's lease of the
        same day that were never served are given back to the day's count, never more than
        the block (a retried call can then only count twice, never give back twice)."""
        with self._lock:
            lease = self._leases.get(prefix)
            if lease is None or lease.limits != limits or lease.day != windows.day:
                return Claim(windows, claimed=0, block=units, returned=0)
            if lease.minute == windows.minute:
                if lease.fits(units):
                    lease.left -= units
                    lease.served += units
                    return Count(lease.usage(windows))
                refused = lease.local_refusal(units)
                if refused is not None:
                    return Count(lease.usage(windows), refused)
                claimed, lease.left = lease.left, 0
            else:
                claimed = 0
            elapsed = max(self.clock() - lease.granted_at, 0.001)
            rate_block = math.ceil(lease.served * LEASE_SECONDS / elapsed)
            cap = min(limits.per_minute, limits.per_day) // LEASE_SHARE
            block = max(units - claimed, min(rate_block, cap))
            returned = 0 if lease.minute == windows.minute else min(lease.left, block)
            return Claim(windows, claimed=claimed, block=block, returned=returned)

    def granted(
        self, prefix: str, *, units: int, block: int, limits: Limits, claim: Claim, counted: Count
    ) -> Count:
        """Record a block DynamoDB counted (the request's `units` served from it and from
        what it claimed); the request's Count, with the usage as served."""
        windows = counted.usage.windows
        with self._lock:
            lease = self._leases.get(prefix)
            same = (claim.windows.minute, claim.windows.day) == (windows.minute, windows.day)
            left = (self._left_in(lease, limits, windows) + claim.claimed) if same else 0
            lease = _Lease(
                limits=limits,
                minute=windows.minute,
                day=windows.day,
                left=left + block - units,
                minute_used=counted.usage.minute_used,
                day_used=counted.usage.day_used,
                granted_at=self.clock(),
                served=units,
            )
            self._store(prefix, lease)
        return Count(lease.usage(windows), key_version=counted.key_version)

    def refused(self, prefix: str, *, limits: Limits, claim: Claim, counted: Count) -> None:
        """Remember a refusal's counts (later requests that cannot fit are refused here),
        and take back what the request claimed."""
        windows = counted.usage.windows
        with self._lock:
            same = (claim.windows.minute, claim.windows.day) == (windows.minute, windows.day)
            left = self._left_in(self._leases.get(prefix), limits, windows)
            left += claim.claimed if same else 0
            self._store(
                prefix,
                _Lease(
                    limits=limits,
                    minute=windows.minute,
                    day=windows.day,
                    left=left,
                    # The item's counts: they include what this process holds.
                    minute_used=counted.usage.minute_used,
                    day_used=counted.usage.day_used,
                    granted_at=self.clock(),
                ),
            )

    def give_back(self, prefix: str, claim: Claim) -> None:
        """DynamoDB did not answer: what the request claimed goes back to the lease."""
        with self._lock:
            lease = self._leases.get(prefix)
            if lease is not None and (lease.minute, lease.day) == (
                claim.windows.minute,
                claim.windows.day,
            ):
                lease.left += claim.claimed

    @staticmethod
    def _left_in(lease: _Lease | None, limits: Limits, windows: Windows) -> int:
        if lease is None or lease.limits != limits:
            return 0
        return lease.left if (lease.minute, lease.day) == (windows.minute, windows.day) else 0

    def version_read_due(self, prefix: str) -> bool:
        """Whether the key's announced version should be read now (and note that it is)."""
        now = self.clock()
        with self._lock:
            last = self._versions_read.get(prefix)
            if last is not None and now - last < VERSION_READ_SECONDS:
                return False
            self._versions_read.pop(prefix, None)
            if len(self._versions_read) >= self.MAX_KEYS:
                self._versions_read.pop(next(iter(self._versions_read)))
            self._versions_read[prefix] = now
            return True

    def version_not_read(self, prefix: str) -> None:
        """The read meant for the key's version failed: read it with the next request."""
        with self._lock:
            self._versions_read.pop(prefix, None)

    def clear(self) -> None:
        with self._lock:
            self._leases.clear()
            self._versions_read.clear()

    def _store(self, prefix: str, lease: _Lease) -> None:
        self._leases.pop(prefix, None)  # re-inserted as the newest
        if len(self._leases) >= self.MAX_KEYS:
            self._leases.pop(next(iter(self._leases)))
        self._leases[prefix] = lease


# The endpoint's one cool-down, shared with the score cache (aws_clients).
cool_down = aws_clients.dynamodb_cool_down
process_counters = ProcessCounters()
leases = Leases()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    """A new endpoint or table (tests, override_settings) starts afresh."""
    if setting.startswith("DYNAMODB_") or setting in ("AWS_REGION", "SCORE_CACHE_TABLE"):
        cool_down.reset()
        process_counters.clear()
        leases.clear()


def count(prefix: str, *, units: int, limits: Limits) -> Count:
    """Count `units` against the key's limits in the current windows, or refuse them.

    `units` must fit in both limits (a request larger than a limit could never pass: the
    caller refuses it instead). A refused request is not counted.
    """
    if not 1 <= units <= min(limits.per_minute, limits.per_day):
        raise ValueError(f"{units} units cannot fit in {limits}")
    windows = Windows.at(wall_clock())
    taken = leases.take(prefix, units=units, limits=limits, windows=windows)
    if isinstance(taken, Count):
        return taken
    if not cool_down.active():
        try:
            counted, block = _count_shared(
                prefix,
                units=units,
                needed=units - taken.claimed,
                block=taken.block,
                returned=taken.returned,
                limits=limits,
                windows=windows,
            )
        except DynamoDBCallFailed as exc:
            _failed(exc)
        else:
            if counted.refused is not None:
                leases.refused(prefix, limits=limits, claim=taken, counted=counted)
                return counted
            return leases.granted(
                prefix, units=units, block=block, limits=limits, claim=taken, counted=counted
            )
    leases.give_back(prefix, taken)
    return process_counters.count(prefix, units=units, limits=limits, windows=windows)


def version_key(prefix: str) -> str | None:
    """The table key to read beside the score cache's items for the key's announced version
    (`announced_version`), or None when this process read it less than
    VERSION_READ_SECONDS ago."""
    return COUNTER_KEY_PREFIX + prefix if leases.version_read_due(prefix) else None


def announced_version(prefix: str, items: Mapping[str, Item] | None) -> int | None:
    """The key's announced version among items read for `version_key`; None when none is
    announced, or `items` is None (the read failed: the next request reads it again)."""
    if items is None:
        leases.version_not_read(prefix)
        return None
    item = items.get(COUNTER_KEY_PREFIX + prefix)
    try:
        return _key_version(item) if item is not None else None
    except _DECODE_FAILURES:
        return None


def peek(prefix: str, *, limits: Limits) -> Count:
    """The key's usage in the current windows and its announced version, counting nothing."""
    windows = Windows.at(wall_clock())
    if not cool_down.active():
        try:
            response = dynamodb_call(
                aws_clients.dynamodb().get_item,
                TableName=_table(),
                Key=_key(prefix),
                ConsistentRead=True,
            )
            return _decoded(response.get("Item", {}), limits=limits, windows=windows)
        except DynamoDBCallFailed as exc:
            _failed(exc)
        except _DECODE_FAILURES as exc:
            _failed(DynamoDBCallFailed(f"UnexpectedCounterItem:{type(exc).__name__}"))
    return process_counters.peek(prefix, limits=limits, windows=windows)


def announce_key_versions(versions: Mapping[str, int]) -> int:
    """Stamp each key's counter item with its new version (prefix -> version).

    Every instance sees a stamp on its next request for the key and re-reads the key. A stamp
    never replaces a newer one. The cool-down is not honoured: a change must always try.
    Returns how many could not be stamped; instances apply those changes within
    API_KEY_CACHE_SECONDS, when their copy of the key expires.
    """
    failed = 0
    expires_at = _expires_at(Windows.at(wall_clock()))
    for prefix, version in versions.items():
        try:
            dynamodb_call(
                aws_clients.dynamodb().update_item,
                TableName=_table(),
                Key=_key(prefix),
                UpdateExpression="SET key_version = :version, #ttl = :expires_at",
                ConditionExpression="attribute_not_exists(key_version) OR key_version < :version",
                ExpressionAttributeNames={"#ttl": _TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":version": {"N": str(version)},
                    ":expires_at": {"N": str(expires_at)},
                },
            )
        except DynamoDBCallFailed as exc:
            if exc.code == _CONDITION_FAILED:
                continue  # a newer version is announced already
            failed += 1
            logger.warning(
                "API key change not announced to other instances; they apply it within %ss",
                settings.API_KEY_CACHE_SECONDS,
                extra={"fields": {"error": exc.code, "key_prefix": prefix}},
            )
    return failed


def _count_shared(
    prefix: str,
    *,
    units: int,
    needed: int,
    block: int,
    returned: int,
    limits: Limits,
    windows: Windows,
) -> tuple[Count, int]:
    try:
        return _count_in_rounds(
            prefix,
            units=units,
            needed=needed,
            block=block,
            returned=returned,
            limits=limits,
            windows=windows,
        )
    except _DECODE_FAILURES as exc:
        raise DynamoDBCallFailed(f"UnexpectedCounterItem:{type(exc).__name__}") from exc


def _count_in_rounds(
    prefix: str,
    *,
    units: int,
    needed: int,
    block: int,
    returned: int,
    limits: Limits,
    windows: Windows,
) -> tuple[Count, int]:
    """Count `block` units (at least the `needed` ones: the request's `units` less what it
    claimed of its lease), less `returned` on the day; a smaller block, down to `needed`,
    when the item has less room. The Count, and the block counted."""
    for _ in range(_ROUNDS):
        try:
            item = _add(prefix, block, block - returned, limits, windows)
            return _decoded(item, limits=limits, windows=windows), block
        except DynamoDBCallFailed as exc:
            if exc.code != _CONDITION_FAILED:
                raise
            old = _refused_item(prefix, exc)
        old_minute, old_day = _windows_of(old)
        if old_minute is not None and old_day is not None and old_minute > windows.minute:
            # Another instance's clock is a little ahead and opened the next windows: count
            # in them rather than move the item back (which would reset its counts).
            windows = Windows(now=windows.now, minute=old_minute, day=old_day)
            # The claimed units were the older minute's: the request needs all its own.
            needed, block, returned = units, max(block, units), 0
            continue
        if old_day != windows.day:
            returned = 0  # the unserved units were another day's
        if old_minute == windows.minute and old_day == windows.day:
            minute_used, day_used = int(old["minute_used"]["N"]), int(old["day_used"]["N"])
            refused = _refusal(minute_used, day_used - returned, units=needed, limits=limits)
            if refused is not None:
                usage = Usage(limits, windows, minute_used, day_used)
                return Count(usage, refused, _key_version(old)), 0
            # Room for the request, if not for the block (or the item changed meanwhile).
            block = max(
                needed,
                min(block, limits.per_minute - minute_used, limits.per_day - day_used + returned),
            )
            returned = min(returned, block)
            continue
        # The item is in older windows: open the current ones.
        if old_day == windows.day:
            day_used = int(old["day_used"]["N"])
            if day_used - returned + needed > limits.per_day:
                usage = Usage(limits, windows, 0, day_used)
                return Count(usage, Refusal.DAILY_QUOTA, _key_version(old)), 0
            block = max(needed, min(block, limits.per_day - day_used + returned))
            returned = min(returned, block)
        try:
            attributes = _open(prefix, block, block - returned, limits, windows, old)
        except DynamoDBCallFailed as exc:
            if exc.code != _CONDITION_FAILED:
                raise
            continue  # another instance opened them first: count again, in them
        return _decoded(attributes, limits=limits, windows=windows), block
    raise DynamoDBCallFailed("CounterContention")


def _add(prefix: str, units: int, day_units: int, limits: Limits, windows: Windows) -> Item:
    """The common case: count in the item's current windows, if both have room; and a key's
    first count opens its windows in the same call. So a refusal always concerns a stored
    item (the one DynamoDB returns with it)."""
    response = dynamodb_call(
        aws_clients.dynamodb().update_item,
        TableName=_table(),
        Key=_key(prefix),
        UpdateExpression=(
            "ADD minute_used :units, day_used :day_units"
            " SET #minute = :minute, #day = :day, #ttl = :expires_at"
        ),
        ConditionExpression=(
            "attribute_not_exists(#minute) OR (#minute = :minute AND #day = :day"
            " AND minute_used <= :minute_room AND day_used <= :day_room)"
        ),
        ExpressionAttributeNames={"#minute": "minute", "#day": "day", "#ttl": _TTL_ATTRIBUTE},
        ExpressionAttributeValues={
            ":units": {"N": str(units)},
            ":day_units": {"N": str(day_units)},
            ":expires_at": {"N": str(_expires_at(windows))},
            ":minute": {"N": str(windows.minute)},
            ":day": {"S": windows.day.isoformat()},
            ":minute_room": {"N": str(limits.per_minute - units)},
            ":day_room": {"N": str(limits.per_day - day_units)},
        },
        ReturnValues="ALL_NEW",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    attributes: Item = response["Attributes"]
    return attributes


def _refused_item(prefix: str, refused: DynamoDBCallFailed) -> Item:
    """The item as it was when DynamoDB refused the condition: from the refusal itself, or,
    from a store that leaves it out (dynalite, DynamoDB Local before December 2023), read
    with a consistent read: never taken for a new item (which would open new windows)."""
    if "Item" in refused.error:
        item: Item = refused.error["Item"]
        return item
    response = dynamodb_call(
        aws_clients.dynamodb().get_item, TableName=_table(), Key=_key(prefix), ConsistentRead=True
    )
    stored: Item = response.get("Item", {})
    return stored


def _open(
    prefix: str, units: int, day_units: int, limits: Limits, windows: Windows, old: Item
) -> Item:
    """Move the item into the current windows and count there, if it is still as read
    (`day_units` on a day it was counting already)."""
    values: dict[str, AttributeValueTypeDef] = {
        ":minute": {"N": str(windows.minute)},
        ":day": {"S": windows.day.isoformat()},
        ":units": {"N": str(units)},
        ":expires_at": {"N": str(_expires_at(windows))},
    }
    if "minute" in old:
        condition = "#minute = :old_minute"
        values[":old_minute"] = old["minute"]
    else:
        condition = "attribute_not_exists(#minute)"
    if "day" in old and old["day"].get("S") == windows.day.isoformat():
        # A new minute of the same day: the day's count goes on.
        update = (
            "SET #minute = :minute, minute_used = :units, #ttl = :expires_at"
            " ADD day_used :day_units"
        )
        condition += " AND #day = :day AND day_used <= :day_room"
        values[":day_units"] = {"N": str(day_units)}
        values[":day_room"] = {"N": str(limits.per_day - day_units)}
    else:
        update = (
            "SET #minute = :minute, minute_used = :units, #day = :day, day_used = :units,"
            " #ttl = :expires_at"
        )
    response = dynamodb_call(
        aws_clients.dynamodb().update_item,
        TableName=_table(),
        Key=_key(prefix),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames={"#minute": "minute", "#day": "day", "#ttl": _TTL_ATTRIBUTE},
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    attributes: Item = response["Attributes"]
    return attributes


def _refusal(minute_used: int, day_used: int, *, units: int, limits: Limits) -> Refusal | None:
    # The quota first: it is the longer wait, and the one a client must plan around.
    if day_used + units > limits.per_day:
        return Refusal.DAILY_QUOTA
    if minute_used + units > limits.per_minute:
        return Refusal.RATE_LIMIT
    return None


def _decoded(item: Item, *, limits: Limits, windows: Windows) -> Count:
    """The usage an item shows in `windows` (zero in windows it has not counted yet)."""
    minute, day = _windows_of(item)
    minute_used = int(item["minute_used"]["N"]) if minute == windows.minute else 0
    day_used = int(item["day_used"]["N"]) if day == windows.day else 0
    return Count(Usage(limits, windows, minute_used, day_used), key_version=_key_version(item))


def _windows_of(item: Item) -> tuple[int | None, date | None]:
    minute = int(item["minute"]["N"]) if "minute" in item else None
    day = date.fromisoformat(item["day"]["S"]) if "day" in item else None
    return minute, day


def _key_version(item: Item) -> int | None:
    return int(item["key_version"]["N"]) if "key_version" in item else None


def _failed(exc: DynamoDBCallFailed) -> None:
    seconds = float(settings.DYNAMODB_FAILURE_COOLDOWN_SECONDS)
    cool_down.start(seconds)
    logger.warning(
        "rate-limit counters unavailable; counting per process for %.1fs",
        seconds,
        extra={"fields": {"error": exc.code}},
    )


def _table() -> str:
    return str(settings.SCORE_CACHE_TABLE)  # one table: the score cache's


def _key(prefix: str) -> dict[str, AttributeValueTypeDef]:
    return {_KEY_ATTRIBUTE: {"S": COUNTER_KEY_PREFIX + prefix}}


def _expires_at(windows: Windows) -> int:
    return math.ceil(windows.day_ends_at + _RETENTION_AFTER_DAY.total_seconds())
