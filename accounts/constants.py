"""Vocabulary of the accounts app: API key scopes."""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """What an API key may call (SPEC §7)."""

    SCORES_READ = "scores:read", _("Score one CPF")
    SCORES_BATCH = "scores:batch", _("Score CPFs in batches")


# A new key gets these unless its issuer says otherwise.
DEFAULT_SCOPES = (Scope.SCORES_READ,)

# Key format of djangorestframework-api-key: "<8-char prefix>.<32-char secret>".
API_KEY_PREFIX_LENGTH = 8
# A well-formed presented key: "<prefix>.<secret>", both alphanumeric.
API_KEY_SHAPE = re.compile(rf"([A-Za-z0-9]{{{API_KEY_PREFIX_LENGTH}}})\.[A-Za-z0-9]{{16,128}}")
# last_used_at is refreshed at most this often, never on every request (SPEC §8).
LAST_USED_RESOLUTION_SECONDS = 60

# The session key holding a signed-in staff member's language (scoreportal/language.py).
STAFF_LANGUAGE_SESSION_KEY = "staff_language"
