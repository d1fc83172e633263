"""Writes and workflows of the scores app, one module per job (HackSoft's services package).

- scoring: serving scores, one or a batch (cache first, else computed from the profiles)
- audit: recording what was answered (the audit trail's one writer)
- profiles: importing and correcting credit profiles
- profile_imports: the admin's imports (upload, check, confirm, run as a task in steps)
  and the records of every import
- invalidations: invalidating cached scores (the outbox of profile changes, all at once)
"""

from scores.services.audit import (
    ConsultationRequest,
    ConsultedCpf,
    consultations_record,
)
from scores.services.consumer_requests import (
    consumer_request_check,
    consumer_request_due_on,
    consumer_request_register,
    consumer_request_resolve,
)
from scores.services.invalidations import (
    DrainReport,
    invalidations_drain,
    invalidations_pending_count,
    invalidations_record,
    scores_invalidate,
    scores_invalidate_all,
)
from scores.services.profile_imports import (
    DirectUpload,
    profile_import_advance,
    profile_import_command_begin,
    profile_import_command_end,
    profile_import_confirm,
    profile_import_direct_upload,
    profile_import_resume,
    profile_import_start,
    profile_import_start_uploaded,
    profile_import_step,
)
from scores.services.profiles import (
    ProfileImportReport,
    credit_profile_apply,
    credit_profile_update,
    credit_profiles_import,
)
from scores.services.scoring import Admission, ServedScore, score_get, scores_get

__all__ = [
    "Admission",
    "ConsultationRequest",
    "ConsultedCpf",
    "DirectUpload",
    "DrainReport",
    "ProfileImportReport",
    "ServedScore",
    "consultations_record",
    "consumer_request_check",
    "consumer_request_due_on",
    "consumer_request_register",
    "consumer_request_resolve",
    "credit_profile_apply",
    "credit_profile_update",
    "credit_profiles_import",
    "invalidations_drain",
    "invalidations_pending_count",
    "invalidations_record",
    "profile_import_advance",
    "profile_import_command_begin",
    "profile_import_command_end",
    "profile_import_confirm",
    "profile_import_direct_upload",
    "profile_import_resume",
    "profile_import_start",
    "profile_import_start_uploaded",
    "profile_import_step",
    "score_get",
    "scores_get",
    "scores_invalidate",
    "scores_invalidate_all",
]
