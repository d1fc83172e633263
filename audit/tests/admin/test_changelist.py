"""The audit trail's changelist, as an Auditor uses it: filters, a range of days, keyset
pages, counts that never read the whole table, and a detail page showing every field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.staff import StaffRole
from audit.admin import changelist as audit_changelist
from audit.admin.trail import ConsultationAdmin
from conftest import owner_sql
from scoreportal.error_codes import ErrorCode
from scores.constants import ScoreSource
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

CONSULTATIONS = reverse("admin:scores_consultation_changelist")
# 15:25:07 in São Paulo (UTC-3).
NOON = datetime(2026, 11, 22, 18, 25, 7, tzinfo=UTC)


def shown(response):
    return list(response.context["cl"].result_list)


@pytest.fixture
def two_keys(issue_key, organization):
    from accounts.models import Organization

    other = Organization.objects.create(name="Cooperativa Horizonte", slug="horizonte")
    first, _ = issue_key(name="originação")
    second, _ = issue_key(organization=other, name="crédito")
    return first, second


def test_if_an_auditor_opens_the_audit_trail_then_rows_show_newest_first_with_seconds_and_ids(
    auditor_client, record, api_key
):
    older = record(EXAMPLE_CPF, at=NOON - timedelta(minutes=1), api_key=api_key[0])[0]
    newer = record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])[0]

    response = auditor_client.get(CONSULTATIONS)

    assert response.status_code == 200
    assert shown(response) == [newer, older]
    page = response.content.decode()
    assert "22/11/2026 15:25:07" in page
    assert "22/11/2026 15:24:07" in page
    assert str(newer.request_id) in page
    assert str(older.request_id) in page


def test_if_the_audit_trail_is_opened_then_no_query_counts_or_lists_dates_over_the_table(
    auditor_client, record, api_key
):
    for minutes in range(5):
        record(EXAMPLE_CPF, at=NOON - timedelta(minutes=minutes), api_key=api_key[0])

    with CaptureQueriesContext(connection) as queries:
        response = auditor_client.get(CONSULTATIONS, {"outcome__exact": "scored"})

    assert response.status_code == 200
    audit_queries = [
        q["sql"] for q in queries.captured_queries if "scores_consultation" in q["sql"]
    ]
    assert audit_queries
    for sql in audit_queries:
        assert "DISTINCT" not in sql.upper(), sql
        assert "DATE_TRUNC" not in sql.upper(), sql
        # Every read of the table is bounded (LIMIT) or only planned (EXPLAIN).
        assert sql.startswith("EXPLAIN") or re.search(r"\bLIMIT \d+", sql), sql


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            lambda k: {"organization__id__exact": k[0].organization_id},
            {"first", "limited"},
            id="organization",
        ),
        pytest.param(
            lambda k: {"api_key__prefix__exact": k[1].prefix}, {"second"}, id="key-by-prefix"
        ),
        pytest.param(lambda k: {"outcome__exact": "rate_limited"}, {"limited"}, id="outcome"),
        pytest.param(lambda k: {"purpose__exact": "collection"}, {"second"}, id="purpose"),
        pytest.param(lambda k: {"source__exact": "computed"}, {"second"}, id="source"),
        pytest.param(
            lambda k: {"endpoint__exact": "scores"},
            {"first", "second", "limited", "unknown"},
            id="endpoint",
        ),
        pytest.param(lambda k: {"organization__isnull": "True"}, {"unknown"}, id="no-organization"),
        pytest.param(
            lambda k: {
                "organization__id__exact": k[0].organization_id,
                "outcome__exact": "rate_limited",
            },
            {"limited"},
            id="organization-and-outcome",
        ),
    ],
)
def test_if_the_audit_trail_is_filtered_then_only_matching_rows_show(
    auditor_client, record, two_keys, params, expected
):
    first_key, second_key = two_keys
    rows = {
        "first": record(EXAMPLE_CPF, at=NOON, api_key=first_key)[0],
        "second": record(
            OTHER_EXAMPLE_CPF,
            at=NOON,
            api_key=second_key,
            purpose="collection",
            source=ScoreSource.COMPUTED,
        )[0],
        "limited": record(None, at=NOON, api_key=first_key, error=ErrorCode.RATE_LIMITED)[0],
        "unknown": record(
            None, at=NOON, error=ErrorCode.INVALID_API_KEY, presented_key_prefix="Zz9Zz9Zz"
        )[0],
    }

    response = auditor_client.get(CONSULTATIONS, params(two_keys))

    assert response.status_code == 200
    assert set(shown(response)) == {rows[name] for name in expected}


@pytest.mark.parametrize("same_organization", [True, False], ids=["its-own", "another-one"])
def test_if_a_key_and_an_organization_are_both_chosen_then_the_key_decides_without_reading_rows(
    auditor_client, record, two_keys, same_organization
):
    first_key, second_key = two_keys
    mine = record(EXAMPLE_CPF, at=NOON, api_key=first_key)[0]
    record(EXAMPLE_CPF, at=NOON, api_key=second_key)
    organization = (first_key if same_organization else second_key).organization_id

    with CaptureQueriesContext(connection) as queries:
        response = auditor_client.get(
            CONSULTATIONS,
            {"organization__id__exact": organization, "api_key__prefix__exact": first_key.prefix},
        )

    assert shown(response) == ([mine] if same_organization else [])
    audit_queries = [
        q["sql"] for q in queries.captured_queries if "scores_consultation" in q["sql"]
    ]
    # The key alone filters (the planner reads its index); a mismatch reads nothing.
    assert not any(
        re.search(r'"scores_consultation"\."organization_id" = \d', sql) for sql in audit_queries
    )
    assert bool(audit_queries) == same_organization


def test_if_keys_are_offered_as_a_filter_then_they_go_by_prefix_and_never_by_their_hash(
    auditor_client, record, two_keys
):
    record(EXAMPLE_CPF, at=NOON, api_key=two_keys[0])

    page = auditor_client.get(CONSULTATIONS).content.decode()

    for key in two_keys:
        assert f"api_key__prefix__exact={key.prefix}" in page
        assert key.hashed_key not in page
        assert key.pk not in page
    assert f"{two_keys[1].prefix} · crédito (Cooperativa Horizonte)" in page


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        pytest.param("2026-11-22", "2026-11-22", {"late", "noon"}, id="one-day"),
        pytest.param("2026-11-23", "", {"next-day"}, id="from-only"),
        pytest.param("", "2026-11-21", {"day-before"}, id="to-only"),
        pytest.param(
            "2026-11-21", "2026-11-23", {"day-before", "noon", "late", "next-day"}, id="three-days"
        ),
    ],
)
def test_if_the_audit_trail_is_limited_to_days_then_whole_sao_paulo_days_are_included(
    auditor_client, record, api_key, since, until, expected
):
    rows = {
        # 23:59 on the 21st, 15:25 and 23:30 on the 22nd, 00:10 on the 23rd (São Paulo).
        "day-before": datetime(2026, 11, 22, 2, 59, tzinfo=UTC),
        "noon": NOON,
        "late": datetime(2026, 11, 23, 2, 30, tzinfo=UTC),
        "next-day": datetime(2026, 11, 23, 3, 10, tzinfo=UTC),
    }
    made = {name: record(EXAMPLE_CPF, at=at, api_key=api_key[0])[0] for name, at in rows.items()}

    response = auditor_client.get(CONSULTATIONS, {"occurred_from": since, "occurred_to": until})

    assert set(shown(response)) == {made[name] for name in expected}


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        pytest.param(
            "2026-11-23", "2026-11-21", "A data inicial é posterior à data final.", id="inverted"
        ),
        pytest.param("2026-13-40", "", "Informe uma data válida.", id="not-a-date"),
    ],
)
def test_if_the_range_of_days_is_wrong_then_it_says_so_and_shows_no_rows(
    auditor_client, record, api_key, since, until, message
):
    record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])

    response = auditor_client.get(CONSULTATIONS, {"occurred_from": since, "occurred_to": until})

    assert response.status_code == 200
    assert shown(response) == []
    assert message in response.content.decode()


@pytest.fixture
def pages_of_three(monkeypatch):
    monkeypatch.setattr(ConsultationAdmin, "list_per_page", 3)


def follow(client, response, link):
    url = getattr(response.context["cl"], link)
    assert url, f"no {link} link"
    return client.get(CONSULTATIONS + url)


def test_if_an_auditor_pages_older_and_back_newer_then_every_row_shows_once_in_order(
    auditor_client, record, api_key, pages_of_three
):
    # Seven rows, two of them at the very same time: the id breaks the tie.
    times = [NOON - timedelta(seconds=s) for s in (0, 1, 2, 2, 3, 4, 5)]
    rows = [record(EXAMPLE_CPF, at=at, api_key=api_key[0])[0] for at in times]
    newest_first = sorted(rows, key=lambda row: (row.occurred_at, row.pk), reverse=True)

    first = auditor_client.get(CONSULTATIONS)
    second = follow(auditor_client, first, "older_url")
    third = follow(auditor_client, second, "older_url")
    back = follow(auditor_client, third, "newer_url")
    newest = follow(auditor_client, back, "newer_url")

    assert shown(first) + shown(second) + shown(third) == newest_first
    assert third.context["cl"].older_url is None
    assert shown(back) == shown(second)
    assert shown(newest) == shown(first)
    assert first.context["cl"].newer_url is None
    assert first.context["cl"].newest_url is None
    assert third.context["cl"].newest_url == "?"


def test_if_a_page_deep_in_a_filter_is_followed_then_the_filter_stays_and_a_new_filter_restarts(
    auditor_client, record, api_key, pages_of_three
):
    for seconds in range(5):
        record(EXAMPLE_CPF, at=NOON - timedelta(seconds=seconds), api_key=api_key[0])
    record(None, at=NOON, api_key=api_key[0], error=ErrorCode.INVALID_CPF)

    first = auditor_client.get(CONSULTATIONS, {"outcome__exact": "scored"})
    second = follow(auditor_client, first, "older_url")
    links = second.content.decode()

    assert {row.outcome for row in shown(first) + shown(second)} == {"scored"}
    assert len(shown(first) + shown(second)) == 5
    assert "outcome__exact=scored" in first.context["cl"].older_url
    # Links that change the filters start again from the newest row.
    assert "before=" not in second.context["cl"].get_query_string({"outcome__exact": "invalid_cpf"})
    assert 'name="before"' not in links


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "12.",
        ".5",
        "1e9.5",
        "99999999999999999999999.1",
        "-5.3",
        pytest.param("9" * 5000 + ".1", id="time-of-5000-digits"),
        pytest.param("1." + "9" * 5000, id="id-of-5000-digits"),
        pytest.param("1.9223372036854775808", id="id-past-bigint"),
    ],
)
def test_if_the_page_position_is_garbage_then_the_newest_page_shows(
    auditor_client, record, api_key, cursor
):
    row = record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])[0]

    response = auditor_client.get(CONSULTATIONS, {"before": cursor})

    assert response.status_code == 200
    assert shown(response) == [row]


def test_if_the_changelist_is_asked_to_sort_then_it_stays_newest_first(
    auditor_client, record, api_key
):
    rows = [
        record(EXAMPLE_CPF, at=NOON - timedelta(seconds=s), api_key=api_key[0], score=900 - s)[0]
        for s in range(3)
    ]

    response = auditor_client.get(CONSULTATIONS, {"o": "9"})  # the score column, ascending

    assert shown(response) == rows


def test_if_few_rows_match_then_the_count_is_exact(auditor_client, record, api_key):
    for seconds in range(3):
        record(EXAMPLE_CPF, at=NOON - timedelta(seconds=seconds), api_key=api_key[0])

    response = auditor_client.get(CONSULTATIONS)

    count = response.context["cl"].row_count
    assert (count.value, count.exact) == (3, True)
    assert "3 consultas" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # committed rows, for the owner's ANALYZE to count
def test_if_more_rows_match_than_are_counted_then_the_planners_estimate_shows(
    auditor_client, record, api_key, monkeypatch
):
    monkeypatch.setattr(audit_changelist, "EXACT_COUNT_LIMIT", 2)
    monkeypatch.setattr(ConsultationAdmin, "list_per_page", 2)
    for seconds in range(4):
        record(EXAMPLE_CPF, at=NOON - timedelta(seconds=seconds), api_key=api_key[0])
    owner_sql("ANALYZE scores_consultation")  # only a table's owner may

    response = auditor_client.get(CONSULTATIONS)

    count = response.context["cl"].row_count
    assert count.exact is False
    assert count.at_least == 2
    assert count.value is not None
    assert count.value >= 1
    assert "Mais de 2 consultas" in response.content.decode()


# ---------------------------------------------------------------------------------------
# One audited query
# ---------------------------------------------------------------------------------------
def test_if_an_auditor_opens_a_scored_row_then_every_recorded_field_shows(
    auditor_client, record, api_key
):
    key = api_key[0]
    row = record(EXAMPLE_CPF, at=NOON, api_key=key, latency_ms=1234, purpose="fraud_prevention")[0]

    response = auditor_client.get(reverse("admin:scores_consultation_change", args=[row.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    for shown_value in (
        "22/11/2026 15:25:07",
        str(row.request_id),
        "Banco Exemplo",
        key.prefix,
        "203.0.113.7",
        "POST /api/v1/scores",
        "Prevenção a fraudes",
        "***.982.247-**",
        "Score fornecido",
        "200",
        "742",
        "Excelente",
        "2026.1",
        "Cache de scores",
        "1.234",
    ):
        assert shown_value in page, shown_value
    key_link = reverse("admin:accounts_apikey_changelist") + f"?prefix={key.prefix}"
    assert f'href="{key_link}"' in page
    assert key.hashed_key not in page
    assert row.cpf_hash not in page
    listed = auditor_client.get(key_link)
    assert [k.pk for k in listed.context["cl"].result_list] == [key.pk]


def test_if_an_auditor_opens_a_failed_authentication_then_the_presented_prefix_shows(
    auditor_client, record
):
    row = record(None, at=NOON, error=ErrorCode.INVALID_API_KEY, presented_key_prefix="Zz9Zz9Zz")[0]

    response = auditor_client.get(reverse("admin:scores_consultation_change", args=[row.pk]))

    page = response.content.decode()
    assert "Zz9Zz9Zz" in page
    assert "Chave de API inválida" in page
    assert "401" in page


@pytest.mark.parametrize(
    "role",
    [StaffRole.KEY_MANAGERS, StaffRole.CREDIT_DATA_OPERATORS, None],
    ids=["key-manager", "credit-data-operator", "no-role"],
)
def test_if_staff_who_are_not_auditors_open_the_audit_trail_then_they_are_refused(
    role_client, record, api_key, role
):
    row = record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])[0]
    client = role_client(role)

    listing = client.get(CONSULTATIONS)
    detail = client.get(reverse("admin:scores_consultation_change", args=[row.pk]))

    assert listing.status_code == 403
    assert detail.status_code == 403
