"""The audit trail's counts on the key managers' pages: each key's and organization's
requests in the last 24 hours. The accounts app's admin knows nothing of the trail; this
one extends it, as django.contrib.auth's UserAdmin is extended elsewhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin import ApiKeyAdmin, OrganizationAdmin
from accounts.models import ApiKey, Organization
from audit.selectors import consultations_count_by_key, consultations_count_for_organization

RECENT = timedelta(hours=24)


class OrganizationWithRequestsAdmin(OrganizationAdmin):
    readonly_fields = ["requests_last_24h", *OrganizationAdmin.readonly_fields]

    @admin.display(description=_("requests in the last 24 h"))
    def requests_last_24h(self, obj: Organization) -> int:
        return consultations_count_for_organization(obj.pk, since=timezone.now() - RECENT)


class ApiKeyWithRequestsAdmin(ApiKeyAdmin):
    list_display = [*ApiKeyAdmin.list_display, "requests_24h"]
    readonly_fields = [*ApiKeyAdmin.readonly_fields, "requests_last_24h"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None:  # after when it was last used
            fields.insert(fields.index("last_used_at") + 1, "requests_last_24h")
        return fields

    @admin.display(description=_("requests in the last 24 h"))
    def requests_last_24h(self, obj: ApiKey) -> int:
        counted = getattr(obj, "_requests_last_24h", None)  # the list's page: one query
        if counted is None:
            since = timezone.now() - RECENT
            counted = consultations_count_by_key([obj.prefix], since=since).get(obj.prefix, 0)
        return int(counted)

    @admin.display(description=_("requests (24 h)"))
    def requests_24h(self, obj: ApiKey) -> int:
        return self.requests_last_24h(obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            keys = list(changelist.result_list)
            counts = consultations_count_by_key(
                [key.prefix for key in keys], since=timezone.now() - RECENT
            )
            for key in keys:
                key._requests_last_24h = counts.get(key.prefix, 0)
        return response


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationWithRequestsAdmin)
admin.site.unregister(ApiKey)
admin.site.register(ApiKey, ApiKeyWithRequestsAdmin)
