"""Staff sign-in settings: enrolling an authenticator app, the admin's language."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import StaffProfile


def totp_enrolment_device(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator a staff member is enrolling (created on first ask)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm an enrolling authenticator with a code it shows; the user keeps only it."""
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    return True


def staff_language_set(*, user: User, language: str) -> StaffProfile:
    """Keep the admin language a staff member chose."""
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.language = language
    profile.full_clean()
    profile.save(update_fields=["language"])
    return profile
