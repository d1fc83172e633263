"""The scores app's models, one module per subject."""

from scores.models.consultation import Consultation
from scores.models.credit_profile import CreditProfile, ScorecardVersion
from scores.models.invalidation import PendingInvalidation
from scores.models.profile_import import STALLED_AFTER, ImportSeenCpf, ProfileImport
from scores.models.scorecard_governance import (
    ScorecardEvent,
    ScorecardProposal,
    ShadowScore,
    StoredScorecard,
)

__all__ = [
    "STALLED_AFTER",
    "Consultation",
    "CreditProfile",
    "ImportSeenCpf",
    "PendingInvalidation",
    "ProfileImport",
    "ScorecardEvent",
    "ScorecardProposal",
    "ScorecardVersion",
    "ShadowScore",
    "StoredScorecard",
]
