"""The scores app's models, one module per subject."""

from scores.models.consultation import Consultation
from scores.models.consumer_request import (
    ConsumerRequest,
    ConsumerRequestAction,
    ConsumerRequestChannel,
    ConsumerRequestEvent,
    ConsumerRequestKind,
    ConsumerRequestState,
    DisputeOutcome,
)
from scores.models.credit_profile import CreditProfile, CreditProfileCorrection, ScorecardVersion
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
    "ConsumerRequest",
    "ConsumerRequestAction",
    "ConsumerRequestChannel",
    "ConsumerRequestEvent",
    "ConsumerRequestKind",
    "ConsumerRequestState",
    "CreditProfile",
    "CreditProfileCorrection",
    "DisputeOutcome",
    "ImportSeenCpf",
    "PendingInvalidation",
    "ProfileImport",
    "ScorecardEvent",
    "ScorecardProposal",
    "ScorecardVersion",
    "ShadowScore",
    "StoredScorecard",
]
