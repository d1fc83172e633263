"""Domain errors of the scores app."""

from __future__ import annotations

from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError


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
