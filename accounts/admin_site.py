"""The staff's admin site: who may see it, and the sign-in steps around it.

- Signing in takes a password and, for whoever has enrolled an authenticator app, its
  code (accounts.forms.StaffAuthenticationForm); django-axes counts failures of either.
- Superusers and key managers must be verified by TOTP before they see anything: one who
  has no authenticator yet is sent to enrol one (`totp_enrol`) right after the password.
- Each staff member chooses the admin's language (`language`), kept in their profile.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import user_has_device

from accounts.forms import StaffAuthenticationForm
from accounts.staff import totp_required, totp_verified

View = Callable[..., HttpResponseBase]


class StaffAdminSite(admin.AdminSite):
    site_header = _("Score Portal administration")
    site_title = _("Score Portal")
    index_title = _("Start page")
    site_url = None  # there is no public site to view: the portal is an API
    login_form = StaffAuthenticationForm
    login_template = "admin/staff_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not super().has_permission(request):
            return False
        return not totp_required(user) or totp_verified(user)

    def must_enrol(self, request: HttpRequest) -> bool:
        """Signed in with a password, required to use TOTP, and no authenticator yet."""
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and totp_required(user)
            and not totp_verified(user)
            and not user_has_device(user, confirmed=True)
        )

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        protected = super().admin_view(view, cacheable)
        if view == self.logout:
            return protected

        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if _has_nul(request.GET):
                # Postgres refuses a NUL in any text it is given, and the changelists'
                # filters hand it their values as they come: a 400, not a failed query.
                raise SuspiciousOperation("NUL character in the query string")
            if self.must_enrol(request):
                return redirect("admin:totp_enrol")
            response: HttpResponseBase = protected(request, *args, **kwargs)
            return response

        return inner

    def signed_in_view(self, view: View) -> View:
        """For the steps of signing in: a staff member with a password session, verified
        or not."""

        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not (user.is_active and user.is_staff):
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            return view(request, *args, **kwargs)

        return csrf_protect(never_cache(inner))

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from accounts import views

        return [
            path(
                "staff/totp/enrol/",
                self.signed_in_view(lambda request: views.totp_enrol(request, self)),
                name="totp_enrol",
            ),
            path(
                "staff/language/",
                self.signed_in_view(lambda request: views.language_set(request, self)),
                name="language",
            ),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The start page: the panels of the signed-in member's role (accounts/start_page.py),
        then every page they may open."""
        from accounts.start_page import start_panels

        return super().index(
            request, {"start_panels": start_panels(request), **(extra_context or {})}
        )

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        from accounts.forms import LanguageForm

        context = super().each_context(request)
        context["language_form"] = LanguageForm(
            initial={"language": getattr(request, "LANGUAGE_CODE", ""), "next": request.path}
        )
        return context


def _has_nul(query: QueryDict) -> bool:
    return any("\x00" in name or "\x00" in "".join(values) for name, values in query.lists())
