"""scores.services.profiles: importing and correcting profiles, and their cached scores."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.imports.profile_file import COLUMNS
from scores.models import CreditProfile, CreditProfileCorrection
from scores.services import credit_profile_update, credit_profiles_import, score_get
from scores.tests.fixtures import EXAMPLE_CPF, GOOD_PROFILE, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

GOOD_ROW = ",".join(str(GOOD_PROFILE[name]) for name in COLUMNS[1:])


def csv_file(*rows):
    return io.StringIO("\n".join([",".join(COLUMNS), *rows]) + "\n")


def test_if_a_file_has_new_changed_and_same_profiles_then_the_report_counts_each(
    make_profile, new_import_id
):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF, protests=1)

    report = credit_profiles_import(
        file=csv_file(
            f"{EXAMPLE_CPF},{GOOD_ROW}",  # unchanged
            f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}",  # protests 1 -> 0
            f"{Cpf.from_base('123456789').digits},{GOOD_ROW}",  # new
            "12345678900,0.5,0,0,0,0,0.1,0,1,1",  # bad check digits
        ),
        import_id=new_import_id(),
    )

    assert (report.rows, report.created, report.updated, report.unchanged) == (4, 1, 1, 1)
    assert [(error.line, error.message) for error in report.errors] == [
        (5, "cpf: CPF check digits do not match.")
    ]
    assert report.written
    assert CreditProfile.objects.count() == 3


def test_if_a_dry_run_imports_a_file_then_nothing_is_written(db, new_import_id):
    report = credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{GOOD_ROW}"), dry_run=True, import_id=new_import_id()
    )

    assert (report.created, report.written) == (1, False)
    assert not CreditProfile.objects.exists()


def test_if_an_import_changes_a_cached_profile_then_its_cached_score_is_invalidated(
    make_profile, new_import_id
):
    profile = make_profile(EXAMPLE_CPF, protests=1)
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    report = credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{GOOD_ROW}"), import_id=new_import_id()
    )

    assert (report.updated, report.invalidation_failures) == (1, 0)
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None


def test_if_a_profile_is_corrected_with_its_own_values_then_nothing_changes(make_profile):
    profile = make_profile(EXAMPLE_CPF)

    changed = credit_profile_update(
        profile=profile,
        values={"protests": 0},
        protocol="2026-0001",
        reason="Creditor's correction",
    )

    assert changed is False
    profile.refresh_from_db()
    assert profile.version == 1


def test_if_a_profile_is_corrected_then_its_version_grows_and_the_cache_forgets_it_on_commit(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile(EXAMPLE_CPF)
    score_get(cpf=Cpf.parse(EXAMPLE_CPF))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert (
            credit_profile_update(
                profile=profile,
                values={"protests": 2},
                protocol="2026-0001",
                reason="Creditor's correction",
            )
            is True
        )
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is not None  # not yet
    for callback in callbacks:
        callback()

    profile.refresh_from_db()
    assert (profile.version, profile.protests) == (2, 2)
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None


def test_if_a_profile_is_corrected_then_who_when_protocol_reason_and_names_are_recorded(
    make_profile, staff_member
):
    operator = staff_member("otto")
    profile = make_profile(EXAMPLE_CPF)

    credit_profile_update(
        profile=profile,
        values={"protests": 2, "credit_utilization": Decimal("0.9")},
        protocol=" 2026-0042 ",
        reason="Protesto registrado pelo cartório em 01/12.",
        actor=operator,
    )

    [correction] = CreditProfileCorrection.objects.all()
    assert (
        correction.cpf_hash,
        correction.cpf_masked,
        correction.profile_version,
        correction.characteristics,
        correction.protocol,
        correction.reason,
        correction.actor,
        correction.actor_name,
    ) == (
        profile.cpf_hash,
        "***.982.247-**",
        2,
        ["protests", "credit_utilization"],
        "2026-0042",
        "Protesto registrado pelo cartório em 01/12.",
        operator,
        "otto",
    )
    # The values are credit data: a cancellation removes them with the profile.
    assert "0.9" not in str(CreditProfileCorrection.objects.values().get())
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
        CreditProfileCorrection.objects.update(reason="")
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
        CreditProfileCorrection.objects.all().delete()


@pytest.mark.parametrize(("protocol", "reason"), [("", "Motivo"), ("2026-1", " "), ("", "")])
def test_if_a_correction_lacks_its_protocol_or_reason_then_nothing_changes(
    make_profile, protocol, reason
):
    profile = make_profile(EXAMPLE_CPF)

    with pytest.raises(ValueError, match="protocol and its reason"):
        credit_profile_update(
            profile=profile, values={"protests": 2}, protocol=protocol, reason=reason
        )

    profile.refresh_from_db()
    assert (profile.protests, profile.version) == (0, 1)
    assert not CreditProfileCorrection.objects.exists()


def test_if_a_correction_changes_nothing_then_nothing_is_recorded(make_profile):
    profile = make_profile(EXAMPLE_CPF)

    credit_profile_update(profile=profile, values={"protests": 0}, protocol="1", reason="r")

    assert not CreditProfileCorrection.objects.exists()
