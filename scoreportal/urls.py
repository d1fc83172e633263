"""Top-level routes: the admin, the v1 API and its OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import include, path, re_path
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt


def lazy_view(view_class: str, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
    """A DRF view imported on its first request instead of at start-up.

    Used for drf-spectacular's views only; why is in docs/architecture.md (cold start).
    CSRF-exempt, as DRF's own `as_view()` is: CsrfViewMiddleware looks at this wrapper,
    not at the view it imports, and would refuse a POST (403) before the view answers its
    405.
    """

    @cache
    def resolve() -> Callable[..., HttpResponseBase]:
        view: Callable[..., HttpResponseBase] = import_string(view_class).as_view(**initkwargs)
        return view

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return resolve()(request, *args, **kwargs)

    return view


ADMIN_URL = settings.ADMIN_URL  # DJANGO_ADMIN_URL, default "admin/"
READ_ONLY = ["get", "head"]

urlpatterns = [
    # One-time "set your password" links for new staff (manage.py create_staff_user).
    path(f"{ADMIN_URL}password-set/", include("accounts.urls")),
    path(ADMIN_URL, admin.site.urls),
    path("api/v1/", include("scores.api.urls")),
    # Read-only documents: GET and HEAD only (anything else is 405 with Allow).
    re_path(
        r"^api/schema/?$",
        lazy_view("drf_spectacular.views.SpectacularAPIView", http_method_names=READ_ONLY),
        name="schema",
    ),
    # The "split" Swagger view serves its start-up script as a file of its own: no inline
    # script, so the Content-Security-Policy can forbid them.
    re_path(
        r"^api/docs/?$",
        lazy_view(
            "drf_spectacular.views.SpectacularSwaggerSplitView",
            url_name="schema",
            http_method_names=READ_ONLY,
        ),
        name="docs",
    ),
]
