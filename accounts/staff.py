"""Staff roles and the sign-in policy that depends on them.

Each role is a Django group holding the permissions of its job; a staff member's role is
their group. `ROLE_PERMISSIONS` is the one definition: a data migration created the groups
with it, and every `migrate` brings them back in line with it (`staff_roles_sync`, run on
post_migrate), so a feature that adds a permission to a role adds it here. Group names are
stable identifiers, in English; the admin shows them translated (`StaffRole.label`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffRole(models.TextChoices):
    """The staff groups; the value is the group's name."""

    KEY_MANAGERS = "Key managers", _("Key managers")
    AUDITORS = "Auditors", _("Auditors")
    CREDIT_DATA_OPERATORS = "Credit data operators", _("Credit data operators")
    MODEL_APPROVERS = "Model approvers", _("Model approvers")
    CONSUMER_SERVICE = "Consumer service", _("Consumer service")


# What each role may do, as app label -> permission codenames. Superusers keep the rest:
# staff accounts, unlocking sign-ins, removing a lost authenticator.
ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    StaffRole.KEY_MANAGERS: {
        "accounts": [
            "add_organization",
            "change_organization",
            "view_organization",
            "add_apikey",
            "change_apikey",
            "view_apikey",
            "view_keylifecycleevent",
        ],
    },
    StaffRole.AUDITORS: {  # read-only
        "accounts": [
            "view_organization",
            "view_apikey",
            "view_keylifecycleevent",
            "view_staffsignin",
            "view_staffsigninfailure",
            "view_stafflockout",
        ],
        "scores": [
            "view_consultation",
            "export_consultation",
            # Scorecard versions: uploads, proposals and every step's record.
            "view_storedscorecard",
            "view_scorecardproposal",
            "view_scorecardevent",
            "view_consumerrequest",
            "view_creditprofilecorrection",
        ],
        "audit": [
            "view_usagereport",
            "view_cpfreport",
            "view_auditexport",
            "view_auditexportdownload",
            "view_cpfreportrun",
            "view_stabilityreport",
            "view_usagesummaryrefresh",
        ],
    },
    StaffRole.CREDIT_DATA_OPERATORS: {
        "scores": [
            "view_creditprofile",
            "change_creditprofile",
            "view_creditprofilecorrection",
            # Import CSV files in the admin, and see every import's record.
            "import_creditprofile",
            "view_profileimport",
            # The cache control: selected profiles' cached scores, or all of them.
            "invalidate_cached_scores",
            # The scorecards and which one is active; upload a version, propose it (its
            # impact computed), watch its stability. A second person approves.
            "view_scorecardversion",
            "view_storedscorecard",
            "view_scorecardproposal",
            "propose_scorecardproposal",
            "view_scorecardevent",
            # Consumers' requests: they resolve disputes (correcting the profile first).
            "view_consumerrequest",
            "resolve_consumerrequest",
        ],
        # The usage report's score mix and the stability report show them drift in what
        # is served.
        "audit": ["view_usagereport", "view_stabilityreport"],
    },
    # The second pair of eyes on a scorecard: approve or refuse a proposal (never their
    # own), roll back.
    StaffRole.MODEL_APPROVERS: {
        "scores": [
            "view_scorecardversion",
            "view_storedscorecard",
            "view_scorecardproposal",
            "approve_scorecardproposal",
            "view_scorecardevent",
        ],
        "audit": ["view_usagereport", "view_stabilityreport"],
    },
    StaffRole.CONSUMER_SERVICE: {
        # Register what a consumer asks (suspension, cancellation, reopening, dispute) and
        # follow it; tell them who consulted them (the report for a CPF).
        "scores": ["add_consumerrequest", "view_consumerrequest"],
        "audit": ["view_cpfreport"],
    },
}


def staff_roles_sync(apps: Any, **kwargs: Any) -> None:
    """Create the role groups and give each exactly its permissions.

    `apps` is an app registry: a migration's historical one, or the live one after
    migrate. Idempotent.
    """
    for app_config in apps.get_app_configs():  # permissions may not exist yet
        # create_permissions skips an app without models_module, which a migration's
        # historical app configs lack.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, grants in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=str(role))
        wanted = [
            permission
            for app_label, codenames in grants.items()
            for permission in permission_model.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
        ]
        undeclared = {
            f"{app_label}.{codename}"
            for app_label, codenames in grants.items()
            for codename in codenames
        } - _declared_permissions()
        if undeclared:
            raise RuntimeError(f"{role}: no model declares {sorted(undeclared)}")
        # A permission the code declares may not exist yet in a migration's registry (its
        # model or option comes in a later migration): the sync after `migrate` grants it.
        group.permissions.set(wanted)


def _declared_permissions() -> set[str]:
    """Every permission the code's models declare, as `app_label.codename`."""
    from django.apps import apps as live_apps

    declared = set()
    for model in live_apps.get_models():
        opts = model._meta
        declared |= {f"{opts.app_label}.{a}_{opts.model_name}" for a in opts.default_permissions}
        declared |= {f"{opts.app_label}.{codename}" for codename, _name in opts.permissions}
    return declared


# Who must sign in with a second factor: superusers and key managers (they can issue keys
# that read personal data). Others may enrol a device, and then must use it.
ROLES_REQUIRING_TOTP = frozenset({StaffRole.KEY_MANAGERS})


def totp_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether this request's user was verified by an authenticator (django-otp's
    OTPMiddleware adds `is_verified` to the request's user)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


def totp_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether `user` may use the admin only after a TOTP verification."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    cached: bool | None = getattr(user, "_totp_required", None)
    if cached is None:
        groups = user.groups.filter(name__in=ROLES_REQUIRING_TOTP)  # type: ignore[attr-defined]
        cached = groups.exists()
        setattr(user, "_totp_required", cached)  # noqa: B010  # asked once per request
    return cached
