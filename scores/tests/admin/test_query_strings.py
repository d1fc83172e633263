"""No query string makes an admin page fail: every page staff can open by GET, for each
role and a superuser, with a table of hostile query strings, answers below 500 (a page, a
redirect, a 400, 403, 404 or 405), never an error page."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from accounts.staff import StaffRole
from conftest import sign_in
from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF

DIGITS = "9" * 5000  # past int()'s 4,300-digit limit
HOSTILE_QUERIES = [
    pytest.param(f"before={DIGITS}.1", id="cursor-time-5000-digits"),
    pytest.param(f"before=1.{DIGITS}", id="cursor-id-5000-digits"),
    pytest.param("before=99999999999999999999.99999999999999999999", id="cursor-out-of-range"),
    pytest.param("before=1.9223372036854775808", id="cursor-id-past-bigint"),
    pytest.param("before=-1.-1", id="cursor-negative"),
    pytest.param("nonsense=1", id="unknown-parameter"),
    pytest.param(f"e={DIGITS}", id="error-flag-5000-digits"),
    pytest.param(f"p={DIGITS}", id="page-5000-digits"),
    pytest.param("p=-1", id="page-negative"),
    pytest.param("p=x", id="page-not-a-number"),
    pytest.param(f"o={DIGITS}", id="ordering-5000-digits"),
    pytest.param("o=-x.y.0", id="ordering-garbage"),
    pytest.param("all=1", id="show-all"),
    pytest.param("_facets=1", id="facets"),
    pytest.param(f"q={'a' * 10_000}", id="search-10000-characters"),
    pytest.param(f"q={DIGITS}", id="search-5000-digits"),
    pytest.param("q=%00%ff", id="search-nul-and-bad-utf8"),
    pytest.param(f"q={quote(EXAMPLE_CPF)}", id="search-cpf"),
    pytest.param("_to_field=password", id="to-field-password"),
    pytest.param("_popup=1&_to_field=id", id="popup"),
    pytest.param(f"_changelist_filters={DIGITS}", id="changelist-filters"),
    pytest.param(f"occurred_from=99999-99-99&occurred_to={DIGITS}", id="day-range-garbage"),
    pytest.param(f"organization__id__exact={DIGITS}", id="organization-5000-digits"),
    pytest.param("organization__id__exact=x", id="organization-not-a-number"),
    pytest.param("api_key__prefix__exact=%00", id="key-prefix-nul"),
    pytest.param("id__in=1,2&password__startswith=x", id="lookups-not-offered"),
    pytest.param(f"since={DIGITS}&until=x&organization={DIGITS}&format=csv", id="report-garbage"),
    pytest.param("since=0001-01-01&until=9999-12-31&format=csv", id="report-widest-range"),
    pytest.param("since=2026-11-22&until=2026-01-01", id="report-inverted-range"),
    pytest.param(f"token={DIGITS}&key=imports/x.csv", id="upload-return-garbage"),
    pytest.param("next=https://attacker.example/&language=xx", id="next-elsewhere"),
    pytest.param(f"year={DIGITS}&month=13&day=32", id="date-drill-down"),
    pytest.param("status__exact=%ff&source__exact=x&strict__exact=maybe", id="choices-garbage"),
    pytest.param("status__exact=%00&outcome__exact=%00&is_staff__exact=%00", id="choices-nul"),
    pytest.param("%00=1", id="name-nul"),
]


def _admin_pages() -> list[str]:
    """Every admin page that takes no argument in its address (the changelists, the add
    forms, the reports, the import's pages, the sign-in steps), but signing out."""
    names: list[str] = []

    def collect(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if not pattern.pattern.regex.groups:
                    collect(pattern.url_patterns)
            elif pattern.name and not pattern.pattern.regex.groups:
                names.append(pattern.name)

    collect(admin.site.get_urls())
    return sorted({reverse(f"admin:{name}") for name in names if name != "logout"})


@pytest.fixture
def trail(record, api_key):
    now = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    record(EXAMPLE_CPF, at=now, api_key=api_key[0])
    record(None, at=now, error=ErrorCode.INVALID_API_KEY, presented_key_prefix="abc")


@pytest.fixture(params=["superuser", *StaffRole.values])
def staff_client(request, staff_member):
    role = request.param
    user = (
        staff_member("root", superuser=True)
        if role == "superuser"
        else staff_member("staff", role=role)
    )
    return sign_in(Client(raise_request_exception=False), user)


def test_if_staff_open_any_admin_page_with_a_hostile_query_string_then_none_fails(
    staff_client, trail
):
    # The pages this member opens (the others refuse them before reading a parameter).
    pages = [url for url in _admin_pages() if staff_client.get(url).status_code == 200]
    assert reverse("admin:scores_consultation_export") not in pages  # a POST: below
    assert len(pages) > 3

    failed = {
        (query.id, url): status
        for query in HOSTILE_QUERIES
        for url in pages
        if (status := staff_client.get(f"{url}?{query.values[0]}").status_code) >= 500
    }
    export = reverse("admin:scores_consultation_export")
    failed |= {
        (query.id, export): status
        for query in HOSTILE_QUERIES
        if (status := staff_client.post(f"{export}?{query.values[0]}").status_code) >= 500
    }

    assert failed == {}


HOSTILE_IDS = [DIGITS, "-1", "abc", "1.5", "\x00", "%00", "00000000-0000-0000-0000-00000000000g"]


def _object_pages() -> list[str]:
    """The pattern of every admin page of one object (change, history, delete, the
    import's and the key's own pages)."""
    return sorted(
        str(pattern.name)
        for resolver in admin.site.get_urls()
        if isinstance(resolver, URLResolver) and not resolver.pattern.regex.groups
        for pattern in resolver.url_patterns
        if isinstance(pattern, URLPattern)
        and pattern.name
        and list(pattern.pattern.regex.groupindex) == ["object_id"]
    )


def test_if_a_superuser_opens_an_object_page_with_a_hostile_id_then_none_fails(staff_member, trail):
    client = sign_in(Client(raise_request_exception=False), staff_member("root", superuser=True))
    names = _object_pages()
    assert "scores_consultation_change" in names

    failed = {
        (name, object_id[:8]): status
        for name in names
        for object_id in HOSTILE_IDS
        if (status := client.get(reverse(f"admin:{name}", args=[object_id])).status_code) >= 500
    }

    assert failed == {}
