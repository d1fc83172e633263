"""Days as the portal's people live them: in its time zone (TIME_ZONE, São Paulo)."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone


def midnight(day: date) -> datetime:
    """The start of `day` in the portal's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def today() -> date:
    """Today in the portal's time zone."""
    return timezone.localdate()
