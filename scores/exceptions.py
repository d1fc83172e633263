"""Domain errors of the scores app."""

from __future__ import annotations

from scoreportal.exceptions import ApplicationError


class NoCreditData(ApplicationError):
    """There is no credit profile for the CPF: no score is made up."""

    default_message = "There is no credit data for this CPF."


class AuditUnavailable(ApplicationError):
    """The audit rows could not be written, so no personal data may be served."""

    default_message = "The query could not be recorded, so no score is served. Retry later."


class ScoreCacheUnavailable(ApplicationError):
    """The score cache could not be reached for an operator's action (invalidating every
    cached score): nothing was done. Never raised on the API's path, which serves without
    the cache."""

    default_message = "The score cache could not be reached; nothing was invalidated. Retry."
