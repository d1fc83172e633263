"""What every app's admin builds on: read-only entries, and entries whose page is a report."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, path


class ReadOnlyAdminMixin:
    """Nothing here is added, changed or deleted through the admin: records, not data."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """An admin entry whose page is a report (`report`), not a list of rows."""

    actions = None

    def report(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    def report_context(self, request: HttpRequest, title: Any) -> dict[str, Any]:
        """What every admin page's template needs, for this entry's page."""
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.changelist_view)
        opts = self.opts
        return [path("", view, name=f"{opts.app_label}_{opts.model_name}_changelist")]

    # A report may answer with a streamed CSV, which is not an HttpResponse.
    def changelist_view(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.report(request)
