"""The audit trail's one order, newest first (time, then id), and positions in it.

Pages and exports walk it by position (keyset pagination): "the rows after this one" is
an index range scan wherever it starts, where OFFSET reads every row it skips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from scores.models import Consultation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Any moment a datetime holds, in microseconds, and any bigint id fit in 19 digits.
_MAX_DIGITS = 19
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the newest-first order: a row's time and id."""

    occurred_at: datetime
    pk: int

    @classmethod
    def of(cls, row: Consultation) -> Cursor:
        return cls(row.occurred_at, row.pk)

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """`<microseconds since the epoch>.<id>`; None for anything else, a number too
        long to be either included (int() refuses over 4,300 digits; Postgres, an id
        past bigint)."""
        micros, _dot, pk = (text or "").partition(".")
        if not (micros.isascii() and micros.isdigit() and pk.isascii() and pk.isdigit()):
            return None
        if len(micros) > _MAX_DIGITS or len(pk) > _MAX_DIGITS or int(pk) > _MAX_ID:
            return None
        try:
            moment = EPOCH + int(micros) * MICROSECOND
        except OverflowError:
            return None
        return cls(moment, int(pk))

    def __str__(self) -> str:
        return f"{(self.occurred_at - EPOCH) // MICROSECOND}.{self.pk}"

    def older(self) -> Q:
        """Rows after this one in the newest-first order. `occurred_at <= t` is what an
        index can start from; the rest only sets apart rows of the very same time."""
        return Q(occurred_at__lte=self.occurred_at) & (
            Q(occurred_at__lt=self.occurred_at) | Q(pk__lt=self.pk)
        )

    def newer(self) -> Q:
        return Q(occurred_at__gte=self.occurred_at) & (
            Q(occurred_at__gt=self.occurred_at) | Q(pk__gt=self.pk)
        )


NEWEST_FIRST = ("-occurred_at", "-pk")
OLDEST_FIRST = ("occurred_at", "pk")
