"""The scores app's models, one module per subject."""

from scores.models.consultation import Consultation
from scores.models.credit_profile import CreditProfile, ScorecardVersion
from scores.models.invalidation import PendingInvalidation
from scores.models.profile_import import STALLED_AFTER, ImportSeenCpf, ProfileImport

__all__ = [
    "STALLED_AFTER",
    "Consultation",
    "CreditProfile",
    "ImportSeenCpf",
    "PendingInvalidation",
    "ProfileImport",
    "ScorecardVersion",
]
