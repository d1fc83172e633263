"""Writes and workflows of the scores app, one module per job (HackSoft's services package).

- scoring: serving scores, one or a batch (cache first, else computed from the profiles)
- audit: recording what was answered, and pruning past retention
- profiles: importing and correcting credit profiles, invalidating their cached scores
- profile_imports: the admin's imports (upload, check, confirm, run as a task in steps)
  and the records of every import
"""

from scores.services.audit import (
    ConsultationRequest,
    ConsultedCpf,
    consultations_prune,
    consultations_record,
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
    cached_scores_invalidate,
    cached_scores_invalidate_all,
    credit_profile_apply,
    credit_profile_update,
    credit_profiles_import,
)
from scores.services.scoring import ServedScore, score_get, scores_get

__all__ = [
    "ConsultationRequest",
    "ConsultedCpf",
    "DirectUpload",
    "ProfileImportReport",
    "ServedScore",
    "cached_scores_invalidate",
    "cached_scores_invalidate_all",
    "consultations_prune",
    "consultations_record",
    "credit_profile_apply",
    "credit_profile_update",
    "credit_profiles_import",
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
]
