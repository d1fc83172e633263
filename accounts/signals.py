"""Receivers: the staff roles stay in line with their definition after every migrate; a
signed-in staff member's chosen language follows them into the new session."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as live_apps
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import StaffProfile
from accounts.staff import staff_roles_sync
from scoreportal.language import STAFF_LANGUAGE_SESSION_KEY


@receiver(post_migrate)
def _sync_staff_roles(*, sender: AppConfig, apps: Any = live_apps, **kwargs: Any) -> None:
    """After migrate (and after the test suite's flushes): the roles as ROLE_PERMISSIONS says."""
    if sender.name == "accounts":
        staff_roles_sync(apps)


@receiver(user_logged_in)
def _remember_language(*, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Copy the staff member's language into the new session (one query, at sign-in only)."""
    if request is None or not hasattr(request, "session"):
        return
    language = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first()
    if language:
        request.session[STAFF_LANGUAGE_SESSION_KEY] = language
