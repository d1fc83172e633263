"""Staff screens for organizations, API keys and their lifecycle record.

Every change goes through the services in accounts/services (issue, change, rotate,
revoke, organizations), which record it in the lifecycle record. A new key is issued on a
POST and shown on the GET it redirects to, once (accounts/services/handoff.py): the
plaintext is never put in a message, the session or a table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_api_key.models import APIKey

from accounts.constants import DEFAULT_ROTATION_GRACE, DEFAULT_SCOPES, KeyStatus, Scope
from accounts.exceptions import ExpiryNotInFuture
from accounts.models import (
    ApiKey,
    KeyLifecycleEvent,
    Organization,
    StaffAuthenticator,
    StaffLockout,
    StaffSignIn,
    StaffSignInFailure,
)
from accounts.selectors import api_keys_unused, api_keys_with_status
from accounts.services import (
    api_key_expiry_check,
    api_key_issue,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
    key_handoff_create,
    key_handoff_take,
    organization_create,
    organization_update,
)
from accounts.services.handoff import HANDOFF_SECONDS
from accounts.staff import StaffRole
from accounts.start_page import Figure, Item, StartPanel, start_panel
from scoreportal.admin_bases import ReadOnlyAdminMixin
from scoreportal.exceptions import ApplicationError

# djangorestframework-api-key registers its own concrete APIKey; we use ApiKey instead.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)

_HANDOFF_COOKIE = "key_handoff"


def _staff(request: HttpRequest) -> User:
    """The signed-in staff member (the admin lets no one else in)."""
    return cast(User, request.user)


def _short(moment: datetime | None) -> str:
    """A time in the list's short form (to the minute, São Paulo time)."""
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "-"


def _member_name(user: User | None) -> str:
    if user is None:
        return "-"
    return user.get_full_name() or user.get_username()


def status_badge(api_key: ApiKey) -> str:
    """The key's status as one readable badge (templates/admin styles in staff.css)."""
    status = api_key.status
    return format_html(
        '<span class="key-status key-status-{}">{}</span>', status.value, status.label
    )


# ==============================================================================
# Organizations
# ==============================================================================
class OrganizationKeyInline(admin.TabularInline[ApiKey, Organization]):
    """An organization's keys, with their status: read-only (keys have their own page)."""

    model = ApiKey
    fk_name = "organization"
    fields = readonly_fields = ("key_link", "name", "key_status", "expiry_date", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = _("API keys")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("replaced_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("prefix"))
    def key_link(self, obj: ApiKey) -> str:
        url = reverse("admin:accounts_apikey_change", args=[quote(obj.pk)])
        return format_html('<a href="{}"><code>{}</code></a>', url, obj.prefix)

    @admin.display(description=_("status"))
    def key_status(self, obj: ApiKey) -> str:
        return status_badge(obj)


class OrganizationAdminForm(forms.ModelForm[Organization]):
    """Deactivating an organization cuts off every key of it at once: the form asks for a
    confirmation, naming how many keys stop."""

    confirm_deactivation = forms.BooleanField(
        label=_("Confirm the deactivation"),
        required=False,
        help_text=_("Unticking “Active” refuses every key of this organization at once."),
    )

    class Meta:
        model = Organization
        fields = ["name", "slug", "is_active", "contact_name", "contact_email"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        deactivating = self.instance.pk and self.instance.is_active and not cleaned.get("is_active")
        if deactivating and not cleaned.get("confirm_deactivation"):
            usable = self.instance.api_keys.filter(revoked=False).count()
            raise forms.ValidationError(
                ngettext(
                    "Deactivating this organization refuses its %(count)d usable key at "
                    "once. Tick “Confirm the deactivation” to go on.",
                    "Deactivating this organization refuses its %(count)d usable keys at "
                    "once. Tick “Confirm the deactivation” to go on.",
                    usable,
                )
                % {"count": usable}
            )
        return cleaned


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "slug", "is_active", "keys", "contact_email", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    inlines = [OrganizationKeyInline]
    form = OrganizationAdminForm

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(key_count=Count("api_keys"))

    def get_fields(self, request: HttpRequest, obj: Organization | None = None) -> Any:
        fields = ["name", "slug", "is_active", "contact_name", "contact_email"]
        if obj is None:
            return fields
        if obj.is_active and self.has_change_permission(request, obj):
            fields.insert(3, "confirm_deactivation")
        return [*fields, *self.readonly_fields]

    @admin.display(description=_("keys"), ordering="key_count")
    def keys(self, obj: Organization) -> int:
        return int(getattr(obj, "key_count", 0))

    def has_delete_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False  # organizations are deactivated: their audit trail must stay linked

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name]
            for name in form.cleaned_data
            if name != "confirm_deactivation"
        }
        if change:  # a deactivation reaches every instance at once, and is recorded
            saved = organization_update(organization=obj, data=data, actor=_staff(request))
        else:
            saved = organization_create(data=data, actor=_staff(request))
        obj.pk = saved.pk


# ==============================================================================
# API keys
# ==============================================================================
class NetworksField(forms.CharField):
    """Allowed networks, one CIDR per line, as the list the model keeps."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class ApiKeyAdminForm(forms.ModelForm[ApiKey]):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(DEFAULT_SCOPES),
    )
    allowed_networks = NetworksField(
        label=_("allowed networks"),
        required=False,
        help_text=_(
            "One CIDR network per line, IPv4 or IPv6 (192.0.2.0/24, 2001:db8::/32). "
            "Empty: any address."
        ),
    )

    def clean_expiry_date(self) -> datetime | None:
        """The services' rule (api_key_expiry_check), said in the form's language. An
        expiry left as it was is the stored one (the form shows no microseconds)."""
        if self.instance.pk and "expiry_date" not in self.changed_data:
            return self.instance.expiry_date
        expiry_date: datetime | None = self.cleaned_data.get("expiry_date")
        try:
            api_key_expiry_check(expiry_date, current=self.instance.expiry_date)
        except ExpiryNotInFuture:
            raise forms.ValidationError(
                _("Choose a moment in the future: to stop a key now, revoke it."),
                code="expiry_not_in_future",
            ) from None
        return expiry_date

    class Meta:
        model = ApiKey
        fields = [
            "name",
            "organization",
            "scopes",
            "expiry_date",
            "rate_limit_per_minute",
            "daily_quota",
            "allowed_networks",
            "default_purpose",
        ]


class KeyStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(KeyStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        value = self.value()
        return api_keys_with_status(queryset, KeyStatus(value)) if value else queryset


class UnusedFilter(admin.SimpleListFilter):
    """Usable keys nobody has used for 30 days (the start page counts them)."""

    title = _("use")
    parameter_name = "unused"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("30d", _("Not used for 30 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        return api_keys_unused(queryset) if self.value() == "30d" else queryset


class RevokeForm(forms.Form):
    """Why the key is revoked: asked every time, kept in the lifecycle record."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why the key is revoked (a leak, the end of a contract, a ticket number)."),
    )


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("The current key keeps working for (hours)"),
        min_value=0,
        max_value=24 * 30,
        initial=int(DEFAULT_ROTATION_GRACE.total_seconds() // 3600),
        help_text=_("Time for the partner to switch to the new key; then the old one expires."),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    form = ApiKeyAdminForm
    change_form_template = "admin/accounts/apikey/change_form.html"
    # Narrow columns (audit.admin adds the requests): the row fits a 1400 px screen beside
    # both sidebars.
    list_display = [
        "key",
        "organization",
        "readable_scopes",
        "key_status",
        "expires",
        "last_used",
    ]
    list_display_links = ["key"]
    list_filter = [KeyStatusFilter, UnusedFilter, "organization"]
    list_select_related = ["organization", "replaced_by"]
    search_fields = ["prefix", "name"]
    search_help_text = _("Prefix or name of the key.")
    actions = ["revoke_keys"]
    readonly_fields = [
        "prefix",
        "key_status",
        "rotation",
        "created",
        "created_by_name",
        "revoked_at",
        "revoked_by_name",
        "last_used_at",
        "lifecycle",
    ]

    # --- list ---------------------------------------------------------------------
    @admin.display(description=_("key"), ordering="prefix")
    def key(self, obj: ApiKey) -> str:
        return format_html("<code>{}</code><br>{}", obj.prefix, obj.name)

    @admin.display(description=_("expires"), ordering="expiry_date")
    def expires(self, obj: ApiKey) -> str:
        return _short(obj.expiry_date)

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return _short(obj.last_used_at)

    @admin.display(description=_("scopes"))
    def readable_scopes(self, obj: ApiKey) -> str:
        return obj.scope_labels()

    @admin.display(description=_("allowed networks"))
    def networks(self, obj: ApiKey) -> str:
        return ", ".join(obj.allowed_networks or ()) or gettext("any")

    @admin.display(description=_("status"))
    def key_status(self, obj: ApiKey) -> str:
        return status_badge(obj)

    # --- the key's page -------------------------------------------------------------
    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        editable = list(ApiKeyAdminForm.Meta.fields)
        if obj is None:
            return editable
        if not self.has_change_permission(request, obj):
            # Read-only: lists as their items, not as the stored JSON.
            shown = {"scopes": "readable_scopes", "allowed_networks": "networks"}
            editable = [shown.get(name, name) for name in editable]
        return [
            "prefix",
            "key_status",
            "rotation",
            *editable,
            "created",
            "created_by_name",
            "revoked_at",
            "revoked_by_name",
            "last_used_at",
            "lifecycle",
        ]

    # Names, not links: a staff member's page is the superusers' (a key manager would get
    # "you cannot open this page").
    @admin.display(description=_("created by"))
    def created_by_name(self, obj: ApiKey) -> str:
        return _member_name(obj.created_by)

    @admin.display(description=_("revoked by"))
    def revoked_by_name(self, obj: ApiKey) -> str:
        return _member_name(obj.revoked_by)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return [*self.readonly_fields, "organization"]

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        if obj is not None and obj.revoked:
            return False  # a revoked key is read-only, for good
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # keys are revoked, never deleted: the audit trail references them

    @admin.display(description=_("rotation"))
    def rotation(self, obj: ApiKey) -> str:
        parts = []
        if obj.replaces_id:
            url = reverse("admin:accounts_apikey_change", args=[quote(obj.replaces_id)])
            parts.append(
                format_html(
                    '{} <a href="{}"><code>{}</code></a>',
                    gettext("Replaces"),
                    url,
                    obj.replaces.prefix if obj.replaces else "",
                )
            )
        successor = getattr(obj, "replaced_by", None)
        if successor is not None:
            url = reverse("admin:accounts_apikey_change", args=[quote(successor.pk)])
            parts.append(
                format_html(
                    '{} <a href="{}"><code>{}</code></a>',
                    gettext("Replaced by"),
                    url,
                    successor.prefix,
                )
            )
        return format_html_join(" · ", "{}", ((part,) for part in parts)) or "-"

    @admin.display(description=_("lifecycle"))
    def lifecycle(self, obj: ApiKey) -> str:
        events = obj.lifecycle_events.order_by("-occurred_at")[:10]
        rows = format_html_join(
            "",
            "<li>{} — {} — {}</li>",
            (
                (
                    date_format(timezone.localtime(event.occurred_at), "DATETIME_FORMAT"),
                    event.get_action_display(),
                    event.actor_name or "-",
                )
                for event in events
            ),
        )
        url = reverse("admin:accounts_keylifecycleevent_changelist") + f"?api_key={obj.prefix}"
        return format_html(
            '<ul class="lifecycle">{}</ul><a href="{}">{}</a>', rows, url, gettext("All changes")
        )

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        data = form.cleaned_data
        settings = {
            "scopes": data["scopes"],
            "expiry_date": data.get("expiry_date"),
            "rate_limit_per_minute": data["rate_limit_per_minute"],
            "daily_quota": data["daily_quota"],
            "allowed_networks": data["allowed_networks"],
            "default_purpose": data["default_purpose"],
        }
        if change:
            api_key_update(api_key=obj, name=data["name"], actor=_staff(request), **settings)
            return
        issued, plaintext = api_key_issue(
            organization=data["organization"],
            name=data["name"],
            actor=_staff(request),
            **settings,
        )
        obj.pk, obj.prefix = issued.pk, issued.prefix
        handoff = key_handoff_create(api_key=issued, plaintext=plaintext, issued_to=_staff(request))
        request._key_handoff = handoff  # type: ignore[attr-defined]  # this request's only

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        return _redirect_to_handoff(request)

    # --- issue once, rotate, revoke ------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "issued/<uuid:handoff_id>/",
                self.admin_site.admin_view(self.issued_view),
                name="accounts_apikey_issued",
            ),
            path(
                "<path:object_id>/rotate/",
                self.admin_site.admin_view(self.rotate_view),
                name="accounts_apikey_rotate",
            ),
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="accounts_apikey_revoke",
            ),
            *super().get_urls(),
        ]

    def issued_view(self, request: HttpRequest, handoff_id: uuid.UUID) -> HttpResponseBase:
        """The new key, once: the hand-off row is gone after this request."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        taken = key_handoff_take(
            handoff_id=handoff_id,
            pad=request.COOKIES.get(_HANDOFF_COOKIE),
            user=_staff(request),
        )
        api_key, plaintext = taken if taken else (None, None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": api_key,
            "plaintext": plaintext,
            "title": _("API key issued") if plaintext else _("API key already shown"),
        }
        response = TemplateResponse(request, "admin/accounts/apikey/issued.html", context)
        response["Cache-Control"] = "no-store"
        response.delete_cookie(_HANDOFF_COOKIE, path=request.path, samesite="Strict")
        return response

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        if not self.has_change_permission(request):
            raise PermissionDenied
        api_key = self._key_or_404(request, object_id)
        if not self.has_change_permission(request, api_key):
            messages.error(request, gettext("This key cannot be rotated."))
            return redirect("admin:accounts_apikey_change", quote(api_key.pk))
        form = RotateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            grace = timedelta(hours=form.cleaned_data["grace_hours"])
            try:
                new, plaintext = api_key_rotate(api_key=api_key, grace=grace, actor=_staff(request))
            except ExpiryNotInFuture:
                messages.error(
                    request,
                    gettext(
                        "This key has expired: its replacement would be issued expired. "
                        "Give it a new expiry first, or issue a new key."
                    ),
                )
                return redirect("admin:accounts_apikey_change", quote(api_key.pk))
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect("admin:accounts_apikey_change", quote(api_key.pk))
            request._key_handoff = key_handoff_create(  # type: ignore[attr-defined]
                api_key=new,
                plaintext=plaintext,
                issued_to=_staff(request),
            )
            return _redirect_to_handoff(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": api_key,
            "form": form,
            "title": _("Rotate API key"),
        }
        return TemplateResponse(request, "admin/accounts/apikey/rotate_confirmation.html", context)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        if not self.has_change_permission(request):
            raise PermissionDenied
        api_key = self._key_or_404(request, object_id)
        return self._confirm_revocation(request, ApiKey.objects.filter(pk=api_key.pk))

    def _key_or_404(self, request: HttpRequest, object_id: str) -> ApiKey:
        # Django's own lookup, as its object pages do: an id no key can have (a NUL, which
        # Postgres refuses) is a 404, not a failed query.
        api_key = self.get_object(request, unquote(object_id))
        if api_key is None:
            raise Http404
        return api_key

    @admin.action(description=_("Revoke selected API keys (permanent)"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponseBase:
        return self._confirm_revocation(request, queryset)

    def _confirm_revocation(
        self, request: HttpRequest, queryset: QuerySet[ApiKey]
    ) -> HttpResponseBase:
        """A confirmation page first; the revocation on its POST."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        keys = list(queryset.filter(revoked=False).select_related("organization"))
        confirmed = request.method == "POST" and request.POST.get("confirmed") == "yes"
        form = RevokeForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            for api_key in keys:
                api_key_revoke(
                    api_key=api_key, actor=_staff(request), reason=form.cleaned_data["reason"]
                )
            message = ngettext(
                "Revoked %(count)d API key.", "Revoked %(count)d API keys.", len(keys)
            )
            self.message_user(request, message % {"count": len(keys)}, messages.SUCCESS)
            if len(keys) == 1:
                return redirect("admin:accounts_apikey_change", quote(keys[0].pk))
            return redirect("admin:accounts_apikey_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "keys": keys,
            "selected": [key.pk for key in keys],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "form": form,
            "title": _("Revoke API keys"),
        }
        return TemplateResponse(request, "admin/accounts/apikey/revoke_confirmation.html", context)


def _redirect_to_handoff(request: HttpRequest) -> HttpResponse:
    """Redirect to the page that shows the new key once, with the pad in a cookie scoped
    to that page and to this staff member's browser, for HANDOFF_SECONDS."""
    handoff = request._key_handoff  # type: ignore[attr-defined]
    url = reverse("admin:accounts_apikey_issued", args=[handoff.id])
    response = redirect(url)
    response.set_cookie(
        _HANDOFF_COOKIE,
        handoff.pad,
        max_age=HANDOFF_SECONDS,
        path=url,
        secure=request.is_secure(),
        httponly=True,
        samesite="Strict",
    )
    response["Cache-Control"] = "no-store"
    return response


# ==============================================================================
# The lifecycle record, read-only
# ==============================================================================
@admin.register(KeyLifecycleEvent)
class KeyLifecycleEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[KeyLifecycleEvent]):
    list_display = ["occurred_at", "action", "organization", "api_key", "actor_name", "changes"]
    list_filter = ["action", "organization"]
    list_select_related = ["organization"]
    search_fields = ["api_key__prefix", "actor_name"]
    search_help_text = _("Key prefix or the name of who made the change.")
    fields = readonly_fields = (
        "occurred_at",
        "action",
        "organization",
        "api_key",
        "actor_name",
        "changes",
    )

    @admin.display(description=_("changes"))
    def changes(self, obj: KeyLifecycleEvent) -> str:
        if obj.reason:  # the list shows why beside what
            return format_html(
                '{}<div class="lifecycle-reason">{}: {}</div>',
                self._changes(obj),
                gettext("Reason"),
                obj.reason,
            )
        return self._changes(obj)

    def _changes(self, obj: KeyLifecycleEvent) -> str:
        names = sorted(obj.before.keys() | obj.after.keys())
        model: type[ApiKey] | type[Organization] = ApiKey if obj.api_key_id else Organization
        return format_html_join(
            "",
            '<div class="lifecycle-change"><span>{}</span>: {} → {}</div>',
            (
                (
                    _setting_label(model, name),
                    _shown(model, name, obj.before.get(name)),
                    _shown(model, name, obj.after.get(name)),
                )
                for name in names
            ),
        )


def _setting_label(model: type[ApiKey] | type[Organization], name: str) -> str:
    """A recorded setting by its label on the key's or organization's page."""
    try:
        return capfirst(str(getattr(model._meta.get_field(name), "verbose_name", name)))
    except FieldDoesNotExist:
        return name


def _shown(model: type[ApiKey] | type[Organization], name: str, value: Any) -> str:
    """A recorded value as the pages show it: a choice by its label, a moment in local
    time, yes or no, a list as its items."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    try:
        field: Any = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    choices = dict(Scope.choices) if name == "scopes" else {}
    if field is not None and getattr(field, "flatchoices", None):
        choices = dict(field.flatchoices)
    if isinstance(value, list):
        return ", ".join(str(choices.get(item, item)) for item in value)
    if isinstance(value, str):
        moment = parse_datetime(value) if len(value) > 18 and value[4:5] == "-" else None
        if moment is not None:
            return _short(moment)
    return str(choices.get(value, value))


# ==============================================================================
# Staff sign-in records (django-axes), read-only
# ==============================================================================
_ACCESS_FIELDS: tuple[str, ...] = (
    "username",
    "ip_address",
    "browser",
    "path_info",
    "attempt_time",
)


class StaffAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """Read-only: what django-axes recorded. Only a lockout may be deleted (to unlock)."""

    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = None
    readonly_fields = fields = _ACCESS_FIELDS

    @admin.display(description=_("browser"))
    def browser(self, obj: Any) -> str:
        # django-axes writes "<unknown>" when the request named no browser.
        agent = obj.user_agent
        if not agent or agent == "<unknown>":
            return gettext("unknown")
        return format_html("<code>{}</code>", agent)  # as the browser sent it


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


# ---------------------------------------------------------------------------------------
# Staff authenticators (django-otp's TOTP devices)
# ---------------------------------------------------------------------------------------
class _ConfirmedFilter(admin.SimpleListFilter):
    title = _("confirmed")
    parameter_name = "confirmed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(confirmed=self.value() == "yes")
        return queryset


@admin.register(StaffAuthenticator)
class AuthenticatorAdmin(TOTPDeviceAdmin):  # type: ignore[misc]
    """Who has an authenticator, and removing a lost one: the member enrols a new one at
    their next sign-in. Never its secret, which signs in as its member: with
    OTP_ADMIN_HIDE_SENSITIVE_DATA django-otp leaves the key out of a device's page and
    list and refuses its setup pages (config, QR code); here there is also no adding one
    for someone (its form shows the new secret) and nothing to edit. Its columns and
    fields are ours, with labels in the staff's language (django-otp's are English)."""

    list_display = ["member", "device_name", "enrolled_at", "last_used", "is_confirmed"]
    list_filter = [_ConfirmedFilter]
    search_help_text = _("Search by the staff member's username or e-mail.")
    readonly_fields = ["member", "device_name", "is_confirmed", "enrolled_at", "last_used"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [(None, {"fields": self.readonly_fields})]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("staff member"), ordering="user__username")
    def member(self, device: StaffAuthenticator) -> str:
        return str(device.user.get_username())

    @admin.display(description=_("name"), ordering="name")
    def device_name(self, device: StaffAuthenticator) -> str:
        return str(device.name)

    @admin.display(description=_("confirmed"), boolean=True, ordering="confirmed")
    def is_confirmed(self, device: StaffAuthenticator) -> bool:
        return bool(device.confirmed)

    @admin.display(description=_("enrolled at"), ordering="created_at")
    def enrolled_at(self, device: StaffAuthenticator) -> str:
        return _short(device.created_at)

    @admin.display(description=_("last used at"), ordering="last_used_at")
    def last_used(self, device: StaffAuthenticator) -> str:
        return _short(device.last_used_at)


admin.site.unregister(TOTPDevice)


# ---------------------------------------------------------------------------------------
# The key managers' start page: keys to act on, and the latest changes
# ---------------------------------------------------------------------------------------
@start_panel(order=10)
def key_managers_panel(request: HttpRequest) -> StartPanel | None:
    """Keys expiring within 7 days and keys unused for 30 days (one count each), and the
    last changes to keys and organizations (one query)."""
    if not request.user.has_perm("accounts.change_apikey"):
        return None
    keys = reverse("admin:accounts_apikey_changelist")
    expiring = api_keys_with_status(ApiKey.objects.all(), KeyStatus.EXPIRING).count()
    unused = api_keys_unused(ApiKey.objects.all()).count()
    events = KeyLifecycleEvent.objects.select_related("organization", "api_key").order_by(
        "-occurred_at"
    )[:8]
    return StartPanel(
        panel_id="keys",
        title=gettext("API keys to act on"),
        figures=[
            Figure(
                gettext("Keys expiring within 7 days"),
                expiring,
                f"{keys}?status={KeyStatus.EXPIRING.value}",
                "keys-expiring",
            ),
            Figure(
                gettext("Keys not used for 30 days"),
                unused,
                f"{keys}?{UnusedFilter.parameter_name}=30d",
                "keys-unused",
            ),
        ],
        items_title=gettext("Latest changes to keys and organizations"),
        items=[
            Item(
                text=f"{event.get_action_display()}: "
                + (event.api_key.prefix if event.api_key else str(event.organization)),
                url=reverse("admin:accounts_keylifecycleevent_change", args=[event.pk]),
                when=event.occurred_at,
                detail=event.actor_name,
            )
            for event in events
        ],
        empty=gettext("No changes yet."),
        links=[
            (gettext("Issue a key"), reverse("admin:accounts_apikey_add")),
            (gettext("All keys"), keys),
        ],
    )


@start_panel(order=40)
def sign_ins_panel(request: HttpRequest) -> StartPanel | None:
    """Failed staff sign-ins over the past 7 days and the usernames or addresses locked
    out now (one count each)."""
    if not request.user.has_perm("accounts.view_staffsigninfailure"):
        return None
    today = timezone.localdate()
    since, until = today - timedelta(days=7), today + timedelta(days=1)
    failures = StaffSignInFailure.objects.filter(attempt_time__gte=_local_midnight(since)).count()
    locked = StaffLockout.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gt=timezone.now() - settings.AXES_COOLOFF_TIME,
    ).count()
    past_week = f"attempt_time__gte={since.isoformat()}&attempt_time__lt={until.isoformat()}"
    return StartPanel(
        panel_id="sign-ins",
        title=gettext("Staff sign-ins"),
        figures=[
            Figure(
                gettext("Failed sign-ins, past 7 days"),
                failures,
                f"{reverse('admin:accounts_staffsigninfailure_changelist')}?{past_week}",
                "sign-in-failures",
            ),
            Figure(
                gettext("Locked out now"),
                locked,
                reverse("admin:accounts_stafflockout_changelist"),
                "lockouts",
            ),
        ],
    )


def _local_midnight(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


# ---------------------------------------------------------------------------------------
# Staff accounts and roles (superusers): each role by its name in the reader's language
# ---------------------------------------------------------------------------------------
def role_label(group: Group) -> str:
    """A role's group by its translated name (the group's name is a stable identifier)."""
    try:
        return str(StaffRole(group.name).label)
    except ValueError:
        return group.name


class RoleChoiceField(forms.ModelMultipleChoiceField[Group]):
    def label_from_instance(self, obj: Any) -> str:
        return role_label(obj)


class StaffGroupAdmin(GroupAdmin):
    list_display = ["role"]

    @admin.display(description=_("role"), ordering="name")
    def role(self, obj: Group) -> str:
        return role_label(obj)


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(role.value, role.label) for role in StaffRole]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


class StaffUserAdmin(UserAdmin[User]):
    list_display = ["username", "first_name", "last_name", "roles", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", RoleFilter]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(role_label(group) for group in obj.groups.all()) or "-"

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups":
            kwargs["form_class"] = RoleChoiceField
        return super().formfield_for_manytomany(db_field, request, **kwargs)


for _model in (Group, User):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
admin.site.register(Group, StaffGroupAdmin)
admin.site.register(User, StaffUserAdmin)
