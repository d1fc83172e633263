"""Forms of the staff's sign-in: password and TOTP, enrolment, language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
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
