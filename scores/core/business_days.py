"""Business days in Brazil: weekdays that are not national holidays.

The calendar is the `holidays` library's (kept up to date by its maintainers, including
the holidays a law adds, such as Consciência Negra since 2024); never one of our own.
State and municipal holidays are not counted: a deadline set by federal law runs on the
national calendar.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

SATURDAY = 5


@lru_cache(maxsize=8)
def _national_holidays(year: int) -> Any:
    # Imported here: the calendar is needed when a request is registered, never at start-up.
    import holidays

    return holidays.country_holidays("BR", years=year)


def is_business_day(day: date) -> bool:
    """Whether `day` is a weekday and not a national holiday."""
    return day.weekday() < SATURDAY and day not in _national_holidays(day.year)


def add_business_days(start: date, days: int) -> date:
    """The date `days` business days after `start` (`start` itself not counted, whatever
    it is): Friday + 2 is Tuesday; the day before a holiday + 1 is the day after it."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    left = days
    while left:
        day += timedelta(days=1)
        if is_business_day(day):
            left -= 1
    return day
