"""Vocabulary of the scores app, shared by code and tests."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from scoreportal.error_codes import ErrorCode
from scores.core.scorecard import Band


class ScoreSource(models.TextChoices):
    """Where a served score came from."""

    CACHE = "cache", _("Score cache")
    COMPUTED = "computed", _("Computed from the credit profile")


class Endpoint(models.TextChoices):
    """Audited API operations."""

    SCORE = "scores", "POST /api/v1/scores"
    SCORE_BATCH = "scores_batch", "POST /api/v1/scores/batch"


# The most CPFs one batch request may carry.
BATCH_MAX_CPFS = 100


class BatchItemStatus(models.TextChoices):
    """The status of one CPF in a batch answer."""

    OK = "ok", "Scored"
    INVALID_CPF = "invalid_cpf", "Invalid CPF"
    NO_CREDIT_DATA = "no_credit_data", "No credit data"
    SCORE_SUSPENDED = "score_suspended", "Score suspended"


BAND_LABELS = {
    Band.LOW: _("Low"),
    Band.FAIR: _("Fair"),
    Band.GOOD: _("Good"),
    Band.EXCELLENT: _("Excellent"),
}
BAND_CHOICES = [(band.value, BAND_LABELS[band]) for band in Band]

# An audit row's outcome: the score was served, or the error code that was answered.
OUTCOME_SCORED = "scored"
OUTCOME_CHOICES = [(OUTCOME_SCORED, _("Scored")), *ErrorCode.choices]

# How long the service has to honour a consumer's request, from the day it is received:
# (days, counted in business days). Decreto 9.936/2019 gives two business days to suspend
# access, cancel or reopen; Lei 12.414/2011 gives ten days to correct or confirm disputed
# information.
CONSUMER_REQUEST_DEADLINES = {
    "suspend": (2, True),
    "cancel": (2, True),
    "reopen": (2, True),
    "dispute": (10, False),
}

# Credit profile characteristics, in the order of the CSV import's columns.
PROFILE_CHARACTERISTICS = (
    "on_time_payment_ratio",
    "delinquencies_30d_12m",
    "max_days_past_due_12m",
    "active_negative_records",
    "protests",
    "credit_utilization",
    "hard_inquiries_90d",
    "credit_history_months",
    "active_credit_contracts",
)
