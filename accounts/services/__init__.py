"""Writes and workflows of the accounts app, one module per job (HackSoft's services package).

- keys: the API key lifecycle (issue, change, rotate, revoke)
- organizations: creating and changing organizations, deactivation included
- lifecycle: the record of those changes (the one writer of KeyLifecycleEvent)
- handoff: a new key's one trip to the staff member who issued it
- access: using a key (authenticating with it, counting it against its limits)
- staff: staff sign-in settings (authenticator enrolment, language)
"""

from accounts.services.access import (
    Metered,
    api_key_announcement_key,
    api_key_authenticate,
    api_key_charge,
    api_key_confirm,
    api_key_usage_get,
)
from accounts.services.handoff import Handoff, key_handoff_create, key_handoff_take
from accounts.services.keys import (
    announce_on_commit,
    api_key_expiry_check,
    api_key_issue,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
)
from accounts.services.lifecycle import Actor, actor_fields, lifecycle_record
from accounts.services.organizations import organization_create, organization_update
from accounts.services.staff import (
    staff_language_set,
    totp_enrolment_confirm,
    totp_enrolment_device,
)

__all__ = [
    "Actor",
    "Handoff",
    "Metered",
    "actor_fields",
    "announce_on_commit",
    "api_key_announcement_key",
    "api_key_authenticate",
    "api_key_charge",
    "api_key_confirm",
    "api_key_expiry_check",
    "api_key_issue",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_update",
    "api_key_usage_get",
    "key_handoff_create",
    "key_handoff_take",
    "lifecycle_record",
    "organization_create",
    "organization_update",
    "staff_language_set",
    "totp_enrolment_confirm",
    "totp_enrolment_device",
]
