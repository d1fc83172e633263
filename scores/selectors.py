"""Reads of the scores app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from scores.models import Consultation, CreditProfile
from scores.scorecard import Scorecard, available_versions, load_scorecard


def active_scorecard() -> Scorecard:
    """The scorecard the API serves: SCORECARD_VERSION, or the newest one shipped."""
    return load_scorecard(settings.SCORECARD_VERSION or available_versions()[-1])


def credit_profile_get(*, cpf_hash: str) -> CreditProfile | None:
    try:
        return CreditProfile.objects.get(cpf_hash=cpf_hash)
    except CreditProfile.DoesNotExist:
        return None


def credit_profiles_get(*, cpf_hashes: Sequence[str]) -> dict[str, CreditProfile]:
    """The profiles of these CPF hashes that exist, by hash (one query)."""
    return CreditProfile.objects.in_bulk(list(cpf_hashes))


def credit_profile_versions(*, cpf_hashes: Sequence[str]) -> dict[str, int]:
    """The current version of each of these profiles that exists, by hash (one query)."""
    return dict(
        CreditProfile.objects.filter(cpf_hash__in=list(cpf_hashes)).values_list(
            "cpf_hash", "version"
        )
    )


def consultations_prunable_count(*, retention_days: int) -> int:
    """How many audit rows are older than `retention_days` (what prune_audit would remove)."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    return Consultation.objects.filter(occurred_at__lt=cutoff).count()
