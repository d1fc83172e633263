"""Domain errors of the scores app."""

from __future__ import annotations

from collections.abc import Sequence

from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError
from scores.core.scorecard import Violation


class NoCreditData(ApplicationError):
    """There is no credit profile for the CPF: no score is made up."""

    code = ErrorCode.NO_CREDIT_DATA
    default_message = "There is no credit data for this CPF."


class ScoreSuspended(ApplicationError):
    """The consumer asked for access to their score to be suspended: nothing more is said."""

    code = ErrorCode.SCORE_SUSPENDED
    default_message = "No score is available for this CPF."


class ConsumerRequestRefused(ApplicationError):
    """A consumer request that cannot be registered or resolved as asked (a suspension
    already in force, nothing to reopen, a dispute already resolved…); the message says
    why, in the staff's language."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This consumer request cannot be registered as asked."


class AuditUnavailable(ApplicationError):
    """The audit rows could not be written, so no personal data may be served."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The query could not be recorded, so no score is served. Retry later."


class ImportNotConfirmable(ApplicationError):
    """Only an admin import whose check has finished, and that nobody confirmed yet, can be
    confirmed."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This import cannot be confirmed: it is not waiting for confirmation."


class UploadNotRecognised(ApplicationError):
    """The browser came back from a direct upload with a token or file that is not this
    staff member's upload (tampered, expired, or never uploaded)."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This upload is not recognised; upload the file again."


class ImportNotResumable(ApplicationError):
    """Only an import whose task has made no progress for a while can be resumed."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This import is not stalled: it is finished or still making progress."


class ScoreCacheUnavailable(ApplicationError):
    """The score cache could not be reached for an operator's action (invalidating every
    cached score): nothing was done. Never raised on the API's path, which serves without
    the cache."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The score cache could not be reached; nothing was invalidated. Retry."


class ImpactNotResumable(ApplicationError):
    """Only an impact whose task has made no progress for a while can be resumed."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This impact is not stalled: it is computed or still making progress."


class ScorecardRefused(ApplicationError):
    """An uploaded scorecard file breaks the engine's rules (or is not JSON, or names a
    version that exists): nothing was stored. `violations` says where and why."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "The scorecard file was refused; see the violations."

    def __init__(self, violations: Sequence[Violation] = (), message: str | None = None) -> None:
        super().__init__(message or "; ".join(str(v) for v in violations) or None)
        self.violations = tuple(violations)


class ScorecardNotProposable(ApplicationError):
    """A version that does not exist, is already active, or already waits for approval."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This scorecard version cannot be proposed."


class ScorecardDecisionRefused(ApplicationError):
    """A decision this person may not take on this proposal: their own proposal, no
    approver permission, a proposal already decided, or one whose impact is not known."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This decision cannot be taken on this proposal."


class ScorecardRollbackRefused(ApplicationError):
    """No earlier version to roll back to, or no approver permission."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "There is no earlier scorecard version to roll back to."
