"""Views of the staff's own sign-in: enrol an authenticator app, choose a language (both
registered by accounts.admin_site.StaffAdminSite, which decides who may open them), and
open a password-set link.
"""

from __future__ import annotations

import base64
from typing import Any

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import user_has_device

from accounts.forms import LanguageForm, PasswordSetLinkForm, TotpConfirmForm
from accounts.services import staff_language_set, totp_enrolment_confirm, totp_enrolment_device
from scoreportal.language import STAFF_LANGUAGE_SESSION_KEY


def totp_enrol(request: HttpRequest, site: admin.AdminSite) -> HttpResponseBase:
    """Show a new authenticator's QR code; confirm it with a code; sign the session in."""
    user = request.user
    if user_has_device(user, confirmed=True):
        # Replacing an authenticator takes a superuser (docs/deploy.md): a password alone
        # must not be enough to swap the second factor.
        messages.info(request, _("You already have an authenticator app."))
        return redirect("admin:index")
    device = totp_enrolment_device(user=user)  # type: ignore[arg-type]
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_enrolment_confirm(device=device, token=form.cleaned_data["otp_token"]):
            otp_login(request, device)
            messages.success(request, _("Your authenticator app is enrolled."))
            return redirect("admin:index")
        form.add_error("otp_token", _("That code does not match. Try the next one."))
    context = {
        **site.each_context(request),
        "title": _("Enrol an authenticator app"),
        "form": form,
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=5, border=2),
        "secret": base64.b32encode(device.bin_key).decode(),
    }
    return TemplateResponse(request, "admin/staff/totp_enrol.html", context)


@require_POST
def language_set(request: HttpRequest, site: admin.AdminSite) -> HttpResponseBase:
    """Keep the language the staff member chose, for this session and the next ones."""
    form = LanguageForm(request.POST)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    response = redirect(target or "admin:index")
    if form.is_valid():
        language = form.cleaned_data["language"]
        staff_language_set(user=request.user, language=language)  # type: ignore[arg-type]
        request.session[STAFF_LANGUAGE_SESSION_KEY] = language
        response.set_cookie("django_language", language, samesite="Lax", secure=request.is_secure())
    return response


def locked_out(
    request: HttpRequest,
    original_response: HttpResponseBase | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponseBase:
    """django-axes' AXES_LOCKOUT_CALLABLE: the sign-in page's answer while locked out."""
    context = {
        **admin.site.each_context(request),
        "title": _("Signing in is blocked"),
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return TemplateResponse(
        request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    ).render()


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_set_link(request: HttpRequest) -> HttpResponseBase:
    """Where a password-set link of `create_staff_user` opens. Its code follows the '#',
    which browsers never send: the page's script posts it (or the person pastes the link),
    and no address that reaches a server or a log holds it.

    A valid code is kept in the session, as Django's PasswordResetConfirmView keeps the
    token of a link it opened, and the password is set on that view's own form, at
    `<uidb64>/set-password/`.
    """
    form = PasswordSetLinkForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        request.session[INTERNAL_RESET_SESSION_TOKEN] = form.cleaned_data["token"]
        return redirect("admin_password_set_form", uidb64=form.cleaned_data["uidb64"])
    context = {
        **admin.site.each_context(request),
        "title": _("Set your password"),
        # The code is not written back into the page.
        "form": PasswordSetLinkForm(),
        "errors": [error for errors in form.errors.values() for error in errors],
    }
    return TemplateResponse(request, "admin/staff/password_set_link.html", context)


def password_set_unknown(request: HttpRequest, rest: str) -> HttpResponseBase:
    """Any other address under the password-set page (a link in the shape these links
    had before, with the token in the path): not found, and not sent on to the sign-in
    page with the address in its `next`, as the admin does with addresses it does not
    know."""
    raise Http404
