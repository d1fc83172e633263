"""Vocabulary of the accounts app: API key scopes and statuses, lifecycle actions."""

import re
from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """What an API key may call."""

    SCORES_READ = "scores:read", _("Score one CPF")
    SCORES_BATCH = "scores:batch", _("Score CPFs in batches")


# A new key gets these unless its issuer says otherwise.
DEFAULT_SCOPES = (Scope.SCORES_READ,)

# Key format of djangorestframework-api-key: "<8-char prefix>.<32-char secret>".
API_KEY_PREFIX_LENGTH = 8
# A well-formed presented key: "<prefix>.<secret>", both alphanumeric.
API_KEY_SHAPE = re.compile(rf"([A-Za-z0-9]{{{API_KEY_PREFIX_LENGTH}}})\.[A-Za-z0-9]{{16,128}}")
# last_used_at is refreshed at most this often, never on every request.
LAST_USED_RESOLUTION_SECONDS = 60


class Purpose(models.TextChoices):
    """Why a score was consulted; recorded in the audit (Lei 12.414, Decreto 9.936)."""

    CREDIT_ANALYSIS = "credit_analysis", _("Credit analysis")
    CREDIT_REVIEW = "credit_review", _("Credit review")
    FRAUD_PREVENTION = "fraud_prevention", _("Fraud prevention")
    COLLECTION = "collection", _("Collection")


DEFAULT_PURPOSE = Purpose.CREDIT_ANALYSIS


class KeyStatus(models.TextChoices):
    """A key's state at a glance (ApiKey.status)."""

    ACTIVE = "active", _("Active")
    EXPIRING = "expiring", _("Expiring within 7 days")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")
    ROTATED_OUT = "rotated_out", _("Rotated out")


# A key whose expiry is this close is shown as expiring.
EXPIRING_WITHIN = timedelta(days=7)
# After a rotation the old key keeps working this long, unless the rotation says otherwise.
DEFAULT_ROTATION_GRACE = timedelta(hours=24)


class LifecycleAction(models.TextChoices):
    """What a KeyLifecycleEvent records."""

    KEY_ISSUED = "key_issued", _("Key issued")
    KEY_ROTATED = "key_rotated", _("Key rotated")
    KEY_REVOKED = "key_revoked", _("Key revoked")
    KEY_CHANGED = "key_changed", _("Key settings changed")
    ORGANIZATION_CREATED = "organization_created", _("Organization created")
    ORGANIZATION_CHANGED = "organization_changed", _("Organization changed")
    ORGANIZATION_DEACTIVATED = "organization_deactivated", _("Organization deactivated")
    ORGANIZATION_ACTIVATED = "organization_activated", _("Organization activated")
