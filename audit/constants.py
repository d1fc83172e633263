"""Vocabulary of the audit app: how the usage report groups outcomes and latencies."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from scoreportal.error_codes import ErrorCode
from scores.constants import OUTCOME_SCORED


class OutcomeClass(models.TextChoices):
    """Outcomes grouped the way the usage report counts them."""

    SERVED = "served", _("Scores served")
    NO_CREDIT_DATA = "no_credit_data", _("No credit data")
    INVALID = "invalid", _("Invalid requests")
    REFUSED = "refused", _("Refused (key, scope, address)")
    THROTTLED = "throttled", _("Throttled (rate limit, quota)")
    FAILED = "failed", _("Failed (our side)")


OUTCOME_CLASSES: dict[str, OutcomeClass] = {
    OUTCOME_SCORED: OutcomeClass.SERVED,
    ErrorCode.NO_CREDIT_DATA: OutcomeClass.NO_CREDIT_DATA,
    # No score to show either: the consumer suspended access to it (rare; counted with them).
    ErrorCode.SCORE_SUSPENDED: OutcomeClass.NO_CREDIT_DATA,
    ErrorCode.INVALID_CPF: OutcomeClass.INVALID,
    ErrorCode.INVALID_REQUEST: OutcomeClass.INVALID,
    ErrorCode.NOT_FOUND: OutcomeClass.INVALID,
    ErrorCode.METHOD_NOT_ALLOWED: OutcomeClass.INVALID,
    ErrorCode.PAYLOAD_TOO_LARGE: OutcomeClass.INVALID,
    ErrorCode.MISSING_API_KEY: OutcomeClass.REFUSED,
    ErrorCode.INVALID_API_KEY: OutcomeClass.REFUSED,
    ErrorCode.API_KEY_EXPIRED: OutcomeClass.REFUSED,
    ErrorCode.API_KEY_REVOKED: OutcomeClass.REFUSED,
    ErrorCode.INSUFFICIENT_SCOPE: OutcomeClass.REFUSED,
    ErrorCode.IP_NOT_ALLOWED: OutcomeClass.REFUSED,
    ErrorCode.RATE_LIMITED: OutcomeClass.THROTTLED,
    ErrorCode.QUOTA_EXCEEDED: OutcomeClass.THROTTLED,
    ErrorCode.SERVICE_UNAVAILABLE: OutcomeClass.FAILED,
    ErrorCode.INTERNAL_ERROR: OutcomeClass.FAILED,
}

# The usage summary's latency buckets: each is the upper bound (exclusive, milliseconds) of
# a bucket, after the last an open one. p50 and p95 are read from these counts, within a
# bucket's width (docs/audit.md).
# The usage summary's score histogram: buckets of this many points, 0-9 to 990-1000 (the
# last takes 1000 too). The stability report cuts its PSI bins on these boundaries.
SCORE_BUCKET = 10

LATENCY_BUCKETS_MS = (
    5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000,
)  # fmt: skip
