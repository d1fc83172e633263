"""scores.services.consumer_requests: what each request does to the CPF's data, score and
imports; deadlines on Brazil's calendar; the register's history."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from scores.cache import score_cache
from scores.core.business_days import add_business_days
from scores.core.cpf import Cpf
from scores.exceptions import ConsumerRequestRefused, NoCreditData, ScoreSuspended
from scores.imports.profile_file import COLUMNS
from scores.models import (
    Consultation,
    ConsumerRequest,
    ConsumerRequestAction,
    ConsumerRequestChannel,
    ConsumerRequestKind,
    ConsumerRequestState,
    CreditProfile,
    DisputeOutcome,
)
from scores.services import (
    consumer_request_due_on,
    consumer_request_register,
    consumer_request_resolve,
    credit_profile_update,
    credit_profiles_import,
    score_get,
)
from scores.services.profiles import CANCELLED_CPF_MESSAGE
from scores.tests.fixtures import EXAMPLE_CPF, GOOD_PROFILE, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]


@pytest.fixture(autouse=True)
def _in_english():
    """The refusals' messages are matched in English (the staff's language is pt-BR)."""
    with translation.override("en"):
        yield


SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CPF = Cpf.parse(EXAMPLE_CPF)
GOOD_ROW = ",".join(str(GOOD_PROFILE[name]) for name in COLUMNS[1:])


def register(kind, cpf=CPF, **extra):
    return consumer_request_register(
        cpf=cpf, kind=kind, channel=ConsumerRequestChannel.PHONE, actor="test", **extra
    )


def csv_file(*rows):
    return io.StringIO("\n".join([",".join(COLUMNS), *rows]) + "\n")


# ---------------------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        pytest.param(date(2026, 12, 7), 2, date(2026, 12, 9), id="monday-plus-2"),
        pytest.param(date(2026, 12, 4), 2, date(2026, 12, 8), id="friday-over-the-weekend"),
        # Consciência Negra (20 Nov 2026, a Friday), then the weekend.
        pytest.param(date(2026, 11, 19), 1, date(2026, 11, 23), id="over-a-holiday-and-weekend"),
        # Christmas (Friday) and New Year's Day (Friday).
        pytest.param(date(2026, 12, 24), 2, date(2026, 12, 29), id="over-christmas"),
        pytest.param(date(2026, 12, 31), 1, date(2027, 1, 4), id="over-new-year"),
        # Tiradentes, 21 Apr 2027, a Wednesday.
        pytest.param(date(2027, 4, 20), 1, date(2027, 4, 22), id="over-tiradentes"),
        pytest.param(date(2026, 12, 5), 0, date(2026, 12, 5), id="zero-days"),
    ],
)
def test_if_business_days_are_added_then_weekends_and_national_holidays_are_skipped(
    start, days, due
):
    assert add_business_days(start, days) == due


@pytest.mark.parametrize(
    ("kind", "received", "due"),
    [
        # Thursday 19 Nov 2026, 23:30 in São Paulo (already Friday in UTC): two business
        # days after the 19th skip the holiday and the weekend.
        pytest.param("suspend", datetime(2026, 11, 19, 23, 30), date(2026, 11, 24), id="suspend"),
        pytest.param("cancel", datetime(2026, 12, 4, 10, 0), date(2026, 12, 8), id="cancel"),
        pytest.param("reopen", datetime(2026, 12, 24, 10, 0), date(2026, 12, 29), id="reopen"),
        # Ten days, calendar days: the law says days, not business days.
        pytest.param("dispute", datetime(2026, 12, 24, 10, 0), date(2027, 1, 3), id="dispute"),
    ],
)
def test_if_a_request_is_received_then_its_due_date_follows_the_law_in_sao_paulo(
    kind, received, due
):
    assert consumer_request_due_on(kind=kind, received_at=received.replace(tzinfo=SAO_PAULO)) == due


# ---------------------------------------------------------------------------------------
# Suspension and reopening
# ---------------------------------------------------------------------------------------
def test_if_a_suspension_is_registered_then_the_cached_score_goes_and_none_is_served(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile()
    score_get(cpf=CPF)  # cached
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is not None

    with django_capture_on_commit_callbacks(execute=True):
        request = register(ConsumerRequestKind.SUSPEND)

    assert request.state == ConsumerRequestState.IN_FORCE
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None
    with pytest.raises(ScoreSuspended):
        score_get(cpf=CPF)
    with pytest.raises(ScoreSuspended):  # and again: a suspended score is never cached
        score_get(cpf=CPF)
    profile.refresh_from_db()
    assert profile.version == 2  # an earlier read's score can no longer be cached


def test_if_a_score_computed_before_the_suspension_is_put_after_it_then_the_cache_refuses_it(
    make_profile, django_capture_on_commit_callbacks
):
    profile = make_profile()
    read_before = score_cache.CachedScore(
        score=975,
        band="excellent",
        probability_of_default=Decimal("0.0005"),
        reason_codes=(),
        model_version="2026.1",
        profile_version=1,
        computed_at=profile.updated_at,
    )
    with django_capture_on_commit_callbacks(execute=True):
        register(ConsumerRequestKind.SUSPEND)

    score_cache.put(profile.cpf_hash, read_before, generation=0)  # lands late

    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None
    with pytest.raises(ScoreSuspended):
        score_get(cpf=CPF)


def test_if_a_suspended_cpf_is_reopened_then_its_score_is_served_again(
    make_profile, django_capture_on_commit_callbacks
):
    make_profile()
    suspension = register(ConsumerRequestKind.SUSPEND)

    with django_capture_on_commit_callbacks(execute=True):
        reopening = register(ConsumerRequestKind.REOPEN)

    suspension.refresh_from_db()
    assert (suspension.state, reopening.state) == (
        ConsumerRequestState.LIFTED,
        ConsumerRequestState.DONE,
    )
    assert [event.action for event in suspension.events.all()] == [
        ConsumerRequestAction.REGISTERED,
        ConsumerRequestAction.LIFTED,
    ]
    assert suspension.events.last().note == reopening.protocol
    assert score_get(cpf=CPF).score == 975


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        pytest.param("suspend", "suspend", "already in force", id="suspended-twice"),
        pytest.param("cancel", "cancel", "already in force", id="cancelled-twice"),
        pytest.param(None, "reopen", "nothing to reopen", id="reopen-nothing"),
    ],
)
def test_if_a_request_would_change_nothing_then_it_is_refused_and_nothing_is_recorded(
    make_profile, first, second, message
):
    make_profile()
    if first:
        register(first)
    before = ConsumerRequest.objects.count()

    with pytest.raises(ConsumerRequestRefused, match=message):
        register(second)

    assert ConsumerRequest.objects.count() == before


def test_if_a_cpf_without_data_is_suspended_then_it_is_answered_as_having_no_data(db):
    register(ConsumerRequestKind.SUSPEND)

    with pytest.raises(NoCreditData):
        score_get(cpf=CPF)


# ---------------------------------------------------------------------------------------
# Cancellation
# ---------------------------------------------------------------------------------------
def test_if_a_record_is_cancelled_then_its_data_go_and_its_audit_rows_stay(
    make_profile, record, django_capture_on_commit_callbacks
):
    profile = make_profile()
    score_get(cpf=CPF)
    record(EXAMPLE_CPF, at=profile.updated_at)

    with django_capture_on_commit_callbacks(execute=True):
        request = register(ConsumerRequestKind.CANCEL)

    assert not CreditProfile.objects.filter(pk=profile.cpf_hash).exists()
    assert score_cache.get(profile.cpf_hash, model_version="2026.1") is None
    with pytest.raises(NoCreditData):
        score_get(cpf=CPF)
    assert Consultation.objects.filter(cpf_hash=profile.cpf_hash).count() == 1
    assert [event.action for event in request.events.all()] == [
        ConsumerRequestAction.REGISTERED,
        ConsumerRequestAction.PROFILE_REMOVED,
    ]


def test_if_an_import_has_a_cancelled_cpf_then_its_row_is_refused_by_line_and_the_rest_imported(
    make_profile, new_import_id
):
    make_profile()
    register(ConsumerRequestKind.CANCEL)

    for dry_run in (True, False):  # the preview says it, and the import does it
        report = credit_profiles_import(
            file=csv_file(f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}", f"{EXAMPLE_CPF},{GOOD_ROW}"),
            dry_run=dry_run,
            import_id=new_import_id(),
        )
        assert (report.rows, report.created, report.updated, report.unchanged) == (2, 1, 0, 0)
        assert [(error.line, error.message) for error in report.errors] == [
            (3, CANCELLED_CPF_MESSAGE)
        ]

    assert not CreditProfile.objects.filter(pk=CPF.lookup_hash(settings.CPF_HASH_KEY)).exists()


def test_if_a_cancelled_cpf_is_reopened_then_it_can_be_imported_again(db, new_import_id):
    register(ConsumerRequestKind.CANCEL)
    register(ConsumerRequestKind.REOPEN)

    report = credit_profiles_import(
        file=csv_file(f"{EXAMPLE_CPF},{GOOD_ROW}"), import_id=new_import_id()
    )

    assert (report.created, report.errors) == (1, [])
    assert score_get(cpf=CPF).score == 975


def test_if_a_strict_import_has_a_cancelled_cpf_then_nothing_is_imported(db, new_import_id):
    register(ConsumerRequestKind.CANCEL)

    report = credit_profiles_import(
        file=csv_file(f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}", f"{EXAMPLE_CPF},{GOOD_ROW}"),
        strict=True,
        import_id=new_import_id(),
    )

    assert [error.line for error in report.errors] == [3]
    assert not CreditProfile.objects.exists()


# ---------------------------------------------------------------------------------------
# Disputes
# ---------------------------------------------------------------------------------------
def test_if_a_dispute_is_opened_and_resolved_then_the_answer_says_so_until_it_is_resolved(
    make_profile, django_capture_on_commit_callbacks
):
    make_profile()
    assert score_get(cpf=CPF).under_dispute is False  # cached, not under dispute

    with django_capture_on_commit_callbacks(execute=True):
        dispute = register(ConsumerRequestKind.DISPUTE, disputed_fields=["protests"])
    computed = score_get(cpf=CPF)
    cached = score_get(cpf=CPF)

    assert (computed.source, computed.under_dispute) == ("computed", True)
    assert (cached.source, cached.under_dispute) == ("cache", True)
    with django_capture_on_commit_callbacks(execute=True):
        consumer_request_resolve(
            request=dispute,
            outcome=DisputeOutcome.CONFIRMED,
            resolution="The creditor confirmed the protest.",
            actor="test",
        )
    assert score_get(cpf=CPF).under_dispute is False
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome, dispute.resolved_by_name) == (
        ConsumerRequestState.RESOLVED,
        DisputeOutcome.CONFIRMED,
        "test",
    )


def test_if_a_disputed_profile_is_corrected_then_the_correction_is_in_the_dispute_s_history(
    make_profile, staff_member
):
    profile = make_profile(protests=2)
    dispute = register(ConsumerRequestKind.DISPUTE, disputed_fields=["protests"])
    operator = staff_member("otto")

    credit_profile_update(
        profile=profile,
        values={"protests": 0},
        protocol="2026-0001",
        reason="Creditor's correction",
        actor=operator,
    )

    corrected = dispute.events.get(action=ConsumerRequestAction.PROFILE_CORRECTED)
    assert (corrected.actor, corrected.note) == (operator, "Protests (protocol 2026-0001)")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param([], "at least one", id="none"),
        pytest.param(["salary"], "at least one", id="unknown"),
    ],
)
def test_if_a_dispute_names_no_known_characteristic_then_it_is_refused(
    make_profile, fields, message
):
    make_profile()

    with pytest.raises(ConsumerRequestRefused, match=message):
        register(ConsumerRequestKind.DISPUTE, disputed_fields=fields)


def test_if_a_cpf_without_data_is_disputed_then_it_is_refused(db):
    with pytest.raises(ConsumerRequestRefused, match="nothing to dispute"):
        register(ConsumerRequestKind.DISPUTE, disputed_fields=["protests"])


def test_if_a_resolved_dispute_is_resolved_again_then_it_is_refused(make_profile):
    make_profile()
    dispute = register(ConsumerRequestKind.DISPUTE, disputed_fields=["protests"])
    consumer_request_resolve(
        request=dispute, outcome=DisputeOutcome.CORRECTED, resolution="Fixed.", actor="test"
    )

    with pytest.raises(ConsumerRequestRefused, match="open dispute"):
        consumer_request_resolve(
            request=dispute, outcome=DisputeOutcome.CONFIRMED, resolution="Again.", actor="x"
        )


# ---------------------------------------------------------------------------------------
# The register
# ---------------------------------------------------------------------------------------
def test_if_a_protocol_is_given_twice_then_the_second_is_refused(make_profile):
    make_profile()
    register(ConsumerRequestKind.SUSPEND, protocol="ATD-1")

    with pytest.raises(ConsumerRequestRefused, match="protocol"):
        register(ConsumerRequestKind.REOPEN, protocol="ATD-1")


def test_if_no_protocol_is_given_then_one_is_made_from_the_date(db):
    received = datetime(2026, 12, 7, 1, 0, tzinfo=SAO_PAULO)

    request = register(ConsumerRequestKind.SUSPEND, received_at=received)

    assert request.protocol.startswith("20261207")
    assert len(request.protocol) == 14


def test_if_requests_are_kept_then_no_table_holds_the_cpf(db):
    register(ConsumerRequestKind.SUSPEND, reason="Asked by phone.")

    request = ConsumerRequest.objects.get()
    assert (request.cpf_hash, request.cpf_masked) == (
        CPF.lookup_hash(settings.CPF_HASH_KEY),
        CPF.masked,
    )
    assert CPF.digits not in str(ConsumerRequest.objects.values().get())


def test_if_a_request_s_history_is_changed_or_deleted_then_the_database_refuses(db):
    request = register(ConsumerRequestKind.SUSPEND)
    event = request.events.get()

    for statement in (
        "UPDATE scores_consumerrequestevent SET note = 'x' WHERE id = %s",
        "DELETE FROM scores_consumerrequestevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
