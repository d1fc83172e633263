"""Domain errors of the audit app."""

from __future__ import annotations

from scoreportal.error_codes import ErrorCode
from scoreportal.exceptions import ApplicationError


class AuditPruneNotPermitted(ApplicationError):
    """The connected database role may not delete audit rows: only the schema's owner
    prunes (on AWS, the ops function). Never raised on the API's path."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = (
        "prune_audit runs as the schema's owner (on AWS, the ops function): this database "
        "role may not delete audit rows."
    )


class ExportFiltersTooLong(ApplicationError):
    """The audit trail's filters and search are longer than an export's record keeps: no
    export leaves unrecorded, so none is made."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "These filters are too long to be recorded with an export; narrow them."


class ExportNotResumable(ApplicationError):
    """An export's task is resumed only when it is stalled (running, no progress for a
    while): a finished export, or one still making progress, is left as it is."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This export is not stalled: it is finished or still making progress."


class ExportNotReady(ApplicationError):
    """Only a finished export's file can be downloaded."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "This export's file is not ready."
