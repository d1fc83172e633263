"""What the scorecard commands share: the staff user they act as."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import CommandError


def staff_user(username: str) -> User:
    """The active staff member `username`: the command acts as them, recorded as in the
    admin, with their permissions."""
    user = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None:
        raise CommandError(f"There is no active staff user {username!r}.")
    return user
