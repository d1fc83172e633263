"""manage.py generate_audit_rows: synthetic audit rows at scale, for measuring (bench/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Min

from accounts.models import ApiKey, Organization
from scores.constants import OUTCOME_CHOICES
from scores.core.cpf import Cpf
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = pytest.mark.django_db
END = "2026-11-22T12:00:00-03:00"


def test_if_debug_is_off_and_not_forced_then_it_refuses_to_add_rows_for_good():
    with pytest.raises(CommandError, match="can never be removed"):
        call_command("generate_audit_rows", "100", stdout=StringIO())

    assert not Consultation.objects.exists()


def test_if_rows_are_generated_then_they_spread_over_the_days_with_every_outcome(settings):
    out = StringIO()

    call_command(
        "generate_audit_rows", "20000", "--days", "30", "--end", END, "--force", stdout=out
    )

    assert Consultation.objects.count() == 20_000
    span = Consultation.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    end = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    assert span["last"] <= end
    assert span["first"] >= end - timedelta(days=30)
    outcomes = set(Consultation.objects.values_list("outcome", flat=True).distinct())
    assert outcomes == {value for value, _label in OUTCOME_CHOICES}
    assert Organization.objects.filter(slug__startswith="generated-").count() == 8
    assert ApiKey.objects.filter(organization__slug="generated-1", revoked=True).exists()
    assert Consultation.objects.filter(organization=None).exclude(api_key_prefix="").exists()
    hot = Cpf.parse(EXAMPLE_CPF).lookup_hash(settings.CPF_HASH_KEY)
    with_cpf = Consultation.objects.exclude(cpf_hash="")
    average = with_cpf.count() / with_cpf.values("cpf_hash").distinct().count()
    assert Consultation.objects.filter(cpf_hash=hot).count() > 4 * average  # a few, many times
    assert "Added 20,000 audit rows over 30 days" in out.getvalue()
    # Every score served with its characteristics' bins, the shipped scorecard's nine.
    scored = Consultation.objects.exclude(score=None)
    assert not scored.filter(characteristic_bins="").exists()
    assert {
        len(bins.split(",")) for bins in scored.values_list("characteristic_bins", flat=True)[:50]
    } == {9}
    assert not Consultation.objects.filter(score=None).exclude(characteristic_bins="").exists()


def test_if_it_runs_again_then_it_reuses_its_organizations_and_keys():
    call_command("generate_audit_rows", "200", "--days", "2", "--force", stdout=StringIO())
    keys = ApiKey.objects.count()

    call_command("generate_audit_rows", "200", "--days", "2", "--force", stdout=StringIO())

    assert ApiKey.objects.count() == keys
    assert Consultation.objects.count() == 400
