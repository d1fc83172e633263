"""Staff screens for organizations and API keys.

Keys are issued through `api_key_issue` and revoked through `api_key_revoke`, like
everywhere else. The plaintext key is rendered once, in the response to the add form;
it is never put in a message (messages live in cookies or the session table).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.models import APIKey

from accounts.constants import DEFAULT_SCOPES, Scope
from accounts.models import (
    ApiKey,
    Organization,
    StaffLockout,
    StaffSignIn,
    StaffSignInFailure,
)
from accounts.services import api_key_issue, api_key_revoke, api_key_update, organization_update

_ISSUED_PLAINTEXT = "_scoreportal_issued_api_key"

# djangorestframework-api-key registers its own concrete APIKey; we use ApiKey instead.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "slug", "is_active", "contact_email", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}

    def has_delete_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False  # organizations are deactivated: their audit trail must stay linked

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if change:  # through the service: a deactivation must reach every instance at once
            organization_update(organization=obj, data=form.cleaned_data)
            return
        super().save_model(request, obj, form, change)


class ApiKeyAdminForm(forms.ModelForm[ApiKey]):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(DEFAULT_SCOPES),
    )

    class Meta:
        model = ApiKey
        fields = ["name", "organization", "scopes", "expiry_date"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    form = ApiKeyAdminForm
    list_display = [
        "prefix",
        "name",
        "organization",
        "scopes",
        "created",
        "expiry_date",
        "_has_expired",
        "revoked",
        "last_used_at",
    ]
    list_filter = ["revoked", "organization", "created"]
    list_select_related = ["organization"]
    search_fields = ["name", "prefix", "organization__name"]
    actions = ["revoke_keys"]
    readonly_fields = ["prefix", "created_by", "revoked_at", "revoked_by", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["prefix"]
        fields = [*self.readonly_fields, "organization"]
        if obj.revoked:
            fields += ["name", "scopes", "expiry_date"]
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # keys are revoked, never deleted: the audit trail references them

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            api_key_update(
                api_key=obj, name=obj.name, scopes=obj.scopes, expiry_date=obj.expiry_date
            )
            return
        issued, plaintext = api_key_issue(
            organization=obj.organization,
            name=obj.name,
            scopes=obj.scopes,
            expiry_date=obj.expiry_date,
            created_by=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.prefix = issued.pk, issued.prefix
        # Request-scoped (the ModelAdmin instance is shared by all requests).
        setattr(request, _ISSUED_PLAINTEXT, plaintext)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Show the new key once, on this response only, instead of redirecting."""
        plaintext = getattr(request, _ISSUED_PLAINTEXT, None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": obj,
            "plaintext": plaintext,
            "title": _("API key issued"),
        }
        response = TemplateResponse(request, "admin/accounts/apikey/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke selected API keys (permanent)"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked=False):
            api_key_revoke(api_key=api_key, revoked_by=request.user)  # type: ignore[arg-type]
            revoked += 1
        message = ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", revoked)
        self.message_user(request, message % {"count": revoked}, messages.SUCCESS)


# ==============================================================================
# Staff sign-in records (django-axes), read-only
# ==============================================================================
_ACCESS_FIELDS: tuple[str, ...] = (
    "username",
    "ip_address",
    "user_agent",
    "path_info",
    "attempt_time",
)


class StaffAccessAdmin(admin.ModelAdmin[Any]):
    """Read-only: what django-axes recorded. Only a lockout may be deleted (to unlock)."""

    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = None
    readonly_fields = fields = _ACCESS_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaffSignIn)
class StaffSignInAdmin(StaffAccessAdmin):
    list_display = ["attempt_time", "username", "ip_address", "logout_time"]
    readonly_fields = fields = (*_ACCESS_FIELDS, "logout_time")


@admin.register(StaffSignInFailure)
class StaffSignInFailureAdmin(StaffAccessAdmin):
    list_display = ["attempt_time", "username", "ip_address", "locked_out"]
    list_filter = ["locked_out", "attempt_time"]
    readonly_fields = fields = (*_ACCESS_FIELDS, "locked_out")


@admin.register(StaffLockout)
class StaffLockoutAdmin(StaffAccessAdmin):
    """Failure counts per username and address; deleting one unlocks it (superusers)."""

    list_display = ["attempt_time", "username", "ip_address", "failures_since_start"]
    readonly_fields = fields = (*_ACCESS_FIELDS, "failures_since_start")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))
