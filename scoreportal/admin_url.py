"""Where the admin lives: DJANGO_ADMIN_URL (default /admin/), and the test for its paths."""

from __future__ import annotations

from django.conf import settings


def admin_prefix() -> str:
    """The admin's path prefix, with slashes: `/admin/`."""
    return "/" + str(settings.ADMIN_URL).strip("/") + "/"


def is_admin_path(path: str) -> bool:
    """Whether `path` (a request's path_info) is the admin's: HTML for staff, not JSON."""
    prefix = admin_prefix()
    return path == prefix.rstrip("/") or path.startswith(prefix)
