from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp import apps as otp_totp_apps


class AccountsConfig(AppConfig):
    default = True  # this module also declares the admin's config, below
    name = "accounts"
    verbose_name = _("Organizations, API keys and staff")

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the sign-in receivers)


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin app, with the staff's AdminSite as the default site."""

    default = False  # named explicitly in INSTALLED_APPS
    default_site = "accounts.admin_site.StaffAdminSite"


class AuthenticatorAppsConfig(otp_totp_apps.DefaultConfig):  # type: ignore[misc]
    """django-otp's TOTP devices, under a name the staff read in their language."""

    default = False  # named explicitly in INSTALLED_APPS
    verbose_name = _("Authenticator apps")
