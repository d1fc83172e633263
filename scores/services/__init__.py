"""Writes and workflows of the scores app, one module per job (HackSoft's services package).

- scoring: serving scores, one or a batch (cache first, else computed from the profiles)
- audit: recording what was answered, and pruning past retention
- profiles: importing and correcting credit profiles, invalidating their cached scores
"""

from scores.services.audit import (
    ConsultationRequest,
    ConsultedCpf,
    consultations_prune,
    consultations_record,
)
from scores.services.profiles import (
    ProfileImportReport,
    credit_profile_apply,
    credit_profile_update,
    credit_profiles_import,
)
from scores.services.scoring import ServedScore, score_get, scores_get

__all__ = [
    "ConsultationRequest",
    "ConsultedCpf",
    "ProfileImportReport",
    "ServedScore",
    "consultations_prune",
    "consultations_record",
    "credit_profile_apply",
    "credit_profile_update",
    "credit_profiles_import",
    "score_get",
    "scores_get",
]
