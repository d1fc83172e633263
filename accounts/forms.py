"""Forms of the staff's sign-in: password and TOTP, enrolment, language, a first password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetConfirmView
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.models import Device


class StaffAuthenticationForm(AdminAuthenticationForm, OTPAuthenticationFormMixin):  # type: ignore[misc]
    """The admin's sign-in: username and password, plus the code of the staff member's
    authenticator app when they have enrolled one (then it is required).

    A wrong code counts as a failed sign-in for django-axes, like a wrong password.
    """

    otp_token = forms.CharField(
        label=_("Authentication code"),
        required=False,
        max_length=8,
        help_text=_("The 6-digit code your authenticator app shows, if you have enrolled one."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user, confirmed=True):
            try:
                self.clean_otp(user)
            except forms.ValidationError:
                user_login_failed.send(
                    sender=type(self),
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                raise
        return cleaned

    def _chosen_device(self, user: Any) -> Device | None:
        """The staff member's one authenticator (the enrolment keeps only one)."""
        return next(iter(devices_for_user(user, confirmed=True, for_verify=True)), None)

    def _update_form(self, user: Any) -> None:
        """django-otp would render the password back into the page; we never do."""


class TotpConfirmForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code shown by the app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class PasswordSetLinkForm(forms.Form):
    """The code of a password-set link (what follows its '#': `<uidb64>/<token>`), or the
    whole link pasted, checked with Django's token generator."""

    code = forms.CharField(
        label=_("Your link"),
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "size": 60}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        code = cleaned.get("code", "").rpartition("#")[2].strip()
        uidb64, _slash, token = code.partition("/")
        user = PasswordResetConfirmView().get_user(uidb64) if uidb64 else None
        if user is None or not default_token_generator.check_token(user, token):
            raise forms.ValidationError(
                _(
                    "This link does not work: it was used already, it expired, or it was "
                    "copied incompletely. Ask for a new one."
                ),
                code="invalid_link",
            )
        return {**cleaned, "uidb64": uidb64, "token": token}
