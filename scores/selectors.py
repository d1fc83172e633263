"""Reads of the scores app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
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


def consultations_count_by_key(prefixes: Sequence[str], *, since: datetime) -> dict[str, int]:
    """How many audit rows each key (by prefix) has since `since`: one grouped query."""
    counts = (
        Consultation.objects.filter(api_key__prefix__in=prefixes, occurred_at__gte=since)
        .values_list("api_key__prefix")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(counts)


def consultations_count_for_organization(organization_id: int, *, since: datetime) -> int:
    """How many audit rows an organization has since `since`."""
    return Consultation.objects.filter(
        organization_id=organization_id, occurred_at__gte=since
    ).count()
