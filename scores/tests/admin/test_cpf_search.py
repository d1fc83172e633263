"""No CPF in any admin address: the search box posts its term, a CPF becomes a token of
the session, and an address with a CPF written into it is redirected
(scores/admin/cpf_search.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.staff import StaffRole
from audit.models import AuditExport, CpfReportRun
from conftest import admin_search, sign_in
from scores.admin.cpf_search import MAX_SEARCHES_KEPT, TOKEN_PREFIX
from scores.models import Consultation, CreditProfile
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

CONSULTATIONS = reverse("admin:scores_consultation_changelist")
PROFILES = reverse("admin:scores_creditprofile_changelist")
REPORT_RUNS = reverse("admin:audit_cpfreportrun_changelist")
EXPORTS = reverse("admin:audit_auditexport_changelist")
NOON = datetime(2026, 11, 20, 18, 25, 7, tzinfo=UTC)
DIGITS = "52998224725"

# EXAMPLE_CPF typed into a search box in every spelling a person (or a hostile reviewer)
# might use.
SPELLINGS = [
    pytest.param("52998224725", id="digits"),
    pytest.param("529.982.247-25", id="formatted"),
    pytest.param("\t52998224725", id="tab"),
    pytest.param("\xa0529.982.247-25", id="nbsp"),
    pytest.param("529 982 247 25", id="spaces"),
    pytest.param("529+982+247+25", id="plus-signs"),
    pytest.param("529-982-247-25", id="dashes"),
    pytest.param("cpf:52998224725;", id="surrounded"),
    pytest.param(
        "529.982.247-25".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),
        id="full-width",
    ),
]


def holds_a_cpf(text):
    """Whether `text` (decoded as often as it was encoded) holds the example CPF's digits
    once every non-digit is taken out."""
    for _ in range(3):
        text = unquote(text.replace("+", " "))
    return DIGITS in re.sub(r"[^0-9]", "", text) or "11144477735" in re.sub(r"[^0-9]", "", text)


def addresses(page):
    """Every address a page links to, submits to or loads."""
    return re.findall(r'(?:href|action|src)="([^"]*)"', page.content.decode())


def landed(response):
    """The address the client ended on after the redirects."""
    query = response.request["QUERY_STRING"]
    return response.request["PATH_INFO"] + (f"?{query}" if query else "")


@pytest.fixture
def trail(record, make_profile, api_key):
    """The example CPF consulted twice, another CPF once; both have profiles."""
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    key = api_key[0]
    return [
        *record(EXAMPLE_CPF, at=NOON - timedelta(hours=1), api_key=key),
        *record(EXAMPLE_CPF, at=NOON, api_key=key),
        *record(OTHER_EXAMPLE_CPF, at=NOON, api_key=key),
    ]


def report_run(client, cpf):
    """Run the consultation report for `cpf` over the last month."""
    today = timezone.localdate()
    response = client.post(
        reverse("admin:audit_cpfreport_changelist"),
        {"cpf": cpf, "since": today - timedelta(days=30), "until": today, "reason": "protocolo 1"},
    )
    assert response.context["report"], response.context["form"].errors


@pytest.fixture
def operator_client(staff_member):
    return sign_in(Client(), staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS))


@pytest.mark.parametrize("typed", SPELLINGS)
def test_if_a_cpf_is_typed_into_the_trail_s_search_box_then_no_address_holds_it(
    auditor_client, trail, typed
):
    page = admin_search(auditor_client, CONSULTATIONS, typed)

    assert page.status_code == 200
    (redirect, _status), *_ = page.redirect_chain
    assert not holds_a_cpf(redirect)
    assert parse_qs(urlsplit(redirect).query)["q"][0].startswith(TOKEN_PREFIX)
    assert {row.cpf_masked for row in page.context["cl"].result_list} == {"***.982.247-**"}
    assert len(page.context["cl"].result_list) == 2
    # The box shows the masked CPF, every link and form of the page keep the token.
    assert 'value="***.982.247-**" id="searchbar"' in page.content.decode()
    assert [address for address in addresses(page) if holds_a_cpf(address)] == []


@pytest.mark.parametrize("typed", SPELLINGS)
def test_if_a_cpf_is_written_into_an_admin_address_by_hand_then_it_is_swapped_for_a_token(
    operator_client, trail, typed
):
    response = operator_client.get(f"{PROFILES}?q={quote(typed)}&negative_records=no")

    assert response.status_code == 302
    assert not holds_a_cpf(response["Location"])
    page = operator_client.get(response["Location"])
    assert [p.cpf_masked for p in page.context["cl"].result_list] == ["***.982.247-**"]


def test_if_a_found_profile_is_opened_and_saved_then_the_search_comes_back_without_the_cpf(
    operator_client, trail
):
    found = admin_search(operator_client, PROFILES, EXAMPLE_CPF)
    profile = CreditProfile.objects.get(cpf_masked="***.982.247-**")
    change = next(a for a in addresses(found) if f"/{profile.pk}/change/" in a)
    change = change.replace("&amp;", "&")
    assert "_changelist_filters=q%3Dcpf-" in change

    form = operator_client.get(change).context["adminform"].form
    saved = operator_client.post(
        change, {**{name: form.initial.get(name, "") for name in form.fields}, "_save": "1"}
    )

    assert saved.status_code == 302
    assert not holds_a_cpf(saved["Location"])
    back = operator_client.get(saved["Location"])
    assert [p.cpf_masked for p in back.context["cl"].result_list] == ["***.982.247-**"]


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("{change}?_changelist_filters=q%3D529.982.247-25", id="preserved-filters"),
        pytest.param(
            "{change}?_changelist_filters=q%3D%25C2%25A0529%2B982%2B247%2B25", id="encoded-twice"
        ),
        pytest.param("{changelist}?o=1&cpf=52998224725", id="another-parameter"),
        pytest.param("{changelist}?529.982.247-25=1", id="a-parameter-s-name"),
    ],
)
def test_if_a_cpf_is_anywhere_in_an_admin_address_then_the_redirect_drops_or_seals_it(
    operator_client, trail, address
):
    profile = CreditProfile.objects.get(cpf_masked="***.982.247-**")
    url = address.format(
        change=reverse("admin:scores_creditprofile_change", args=[profile.pk]),
        changelist=PROFILES,
    )

    response = operator_client.get(url)

    assert response.status_code == 302
    assert not holds_a_cpf(response["Location"])
    assert operator_client.get(response["Location"]).status_code in (200, 302)


@pytest.mark.parametrize(
    ("changelist", "term", "found"),
    [
        pytest.param(CONSULTATIONS, "request id", 1, id="trail-by-request-id"),
        pytest.param(CONSULTATIONS, "5299822472", 0, id="trail-ten-digits"),
        pytest.param(REPORT_RUNS, "ana", 1, id="report-runs-by-name"),
        pytest.param(EXPORTS, "ana", 0, id="exports-by-name"),
    ],
)
def test_if_a_search_holds_no_cpf_then_it_stays_in_the_address_as_typed(
    auditor_client, trail, changelist, term, found
):
    if term == "request id":
        term = str(trail[0].request_id)
    report_run(auditor_client, EXAMPLE_CPF)

    page = admin_search(auditor_client, changelist, term)

    assert parse_qs(urlsplit(page.redirect_chain[0][0]).query)["q"] == [term]
    assert len(page.context["cl"].result_list) == found


def test_if_an_auditor_searches_the_report_runs_and_exports_by_cpf_then_theirs_show(
    auditor_client, trail
):
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        report_run(auditor_client, cpf)
    searched = admin_search(auditor_client, CONSULTATIONS, OTHER_EXAMPLE_CPF)
    export_link = next(a for a in addresses(searched) if "/consultation/export/" in a)
    auditor_client.post(export_link.replace("&amp;", "&"))

    runs = admin_search(auditor_client, REPORT_RUNS, "111 444 777 35")
    exports = admin_search(auditor_client, EXPORTS, "111.444.777-35")

    assert [run.cpf_masked for run in runs.context["cl"].result_list] == ["***.444.777-**"]
    assert [e.cpf_masked for e in exports.context["cl"].result_list] == ["***.444.777-**"]
    export = AuditExport.objects.get()
    assert export.filters == "q=%2A%2A%2A.444.777-%2A%2A"
    assert TOKEN_PREFIX not in export.filters
    # Its link repeats the other filters, never the masked search (which finds nothing).
    assert not [a for a in addresses(exports) if "consultation/?" in a and "q=" in a]


def test_if_the_masked_cpf_the_box_shows_is_searched_again_then_the_search_is_the_same(
    auditor_client, trail
):
    first = admin_search(auditor_client, CONSULTATIONS, EXAMPLE_CPF)

    again = auditor_client.post(landed(first), {"_search": "1", "q": "***.982.247-**"}, follow=True)

    assert landed(again) == landed(first)
    assert len(again.context["cl"].result_list) == 2


def test_if_a_search_token_is_of_another_session_then_nothing_is_found_and_the_page_says_why(
    auditor_client, auditor, trail
):
    first = admin_search(auditor_client, CONSULTATIONS, EXAMPLE_CPF)
    other = sign_in(Client(), auditor)

    page = other.get(landed(first))

    assert list(page.context["cl"].result_list) == []
    assert [str(m) for m in page.context["messages"]]
    assert 'value="" id="searchbar"' in page.content.decode()


def test_if_what_looks_like_a_cpf_is_not_a_valid_one_then_nothing_is_searched_and_it_says_so(
    auditor_client, trail
):
    page = admin_search(auditor_client, CONSULTATIONS, "529.982.247-26")

    (redirect, _status), *_ = page.redirect_chain
    assert "q" not in parse_qs(urlsplit(redirect).query)
    assert "98224726" not in re.sub(r"[^0-9]", "", unquote(redirect))
    assert [str(m) for m in page.context["messages"]]


def test_if_nobody_is_signed_in_then_a_cpf_in_the_address_is_dropped_before_the_sign_in(
    client, trail
):
    response = client.get(f"{CONSULTATIONS}?q=529.982.247-25&outcome__exact=scored")
    assert response["Location"] == f"{CONSULTATIONS}?outcome__exact=scored"

    sign_in_page = client.get(response["Location"])
    assert sign_in_page.status_code == 302
    assert not holds_a_cpf(sign_in_page["Location"])


def test_if_searches_are_kept_then_the_session_holds_hashes_and_masks_never_a_cpf(
    auditor_client, trail
):
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF, EXAMPLE_CPF):
        admin_search(auditor_client, CONSULTATIONS, cpf)

    (session,) = Session.objects.all()
    kept = session.get_decoded()["scores.cpf_searches"]
    assert len(kept) == 2  # the same CPF keeps its token
    assert not holds_a_cpf(str(kept))
    assert {masked for _hash, masked in kept.values()} == {"***.982.247-**", "***.444.777-**"}


def test_if_many_cpfs_are_searched_then_the_session_keeps_only_the_latest(auditor_client, db):
    from scores.core.cpf import Cpf

    tokens = []
    for n in range(MAX_SEARCHES_KEPT + 5):
        cpf = Cpf.from_base(f"{100000000 + n * 7919:09d}")
        page = admin_search(auditor_client, CONSULTATIONS, cpf.digits)
        tokens.append(parse_qs(urlsplit(page.redirect_chain[0][0]).query)["q"][0])

    kept = Session.objects.get().get_decoded()["scores.cpf_searches"]
    assert list(kept) == tokens[-MAX_SEARCHES_KEPT:]


def test_if_any_changelist_of_the_admin_is_searched_for_a_cpf_then_its_address_holds_none(
    admin_client, trail
):
    """Every search box of the admin, Django's and django-otp's lists included."""
    searchable = [
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
        for m, model_admin in admin.site._registry.items()
        if model_admin.search_fields
    ]
    assert len(searchable) >= 10

    for changelist in searchable:
        page = admin_search(admin_client, changelist, "\xa0529+982+247+25")
        assert page.status_code == 200, changelist
        assert page.redirect_chain, changelist
        assert not [a for a in addresses(page) if holds_a_cpf(a)], changelist
        assert not holds_a_cpf(landed(page)), changelist


def test_if_the_search_box_is_rendered_then_it_posts_its_term_with_a_csrf_token(
    auditor_client, trail
):
    page = auditor_client.get(CONSULTATIONS).content.decode()

    form = re.search(r'<form id="changelist-search" method="post"[^>]*>.*?</form>', page, re.S)
    assert form
    assert 'name="csrfmiddlewaretoken"' in form[0]
    assert 'name="_search"' in form[0]


def test_if_audit_rows_and_report_runs_exist_then_their_models_keep_no_cpf(auditor_client, trail):
    report_run(auditor_client, EXAMPLE_CPF)

    assert not holds_a_cpf(str(list(CpfReportRun.objects.values())))
    assert not holds_a_cpf(str(list(Consultation.objects.values("cpf_masked", "cpf_hash"))))


@pytest.mark.django_db(transaction=True)
def test_if_an_auditor_searches_the_trail_for_a_cpf_in_a_browser_then_no_address_holds_it(
    browser, live_server, staff_member, record, api_key
):
    """Chromium, as an Auditor uses the page: the search box (no script needed), a filter
    that keeps the search, the export link, and every address the browser went to."""
    from conftest import STAFF_PASSWORD, browser_sign_in, follow, wait_for

    record(EXAMPLE_CPF, at=NOON, api_key=api_key[0])
    record(OTHER_EXAMPLE_CPF, at=NOON, api_key=api_key[0])
    staff_member("bia", role=StaffRole.AUDITORS)
    browser_sign_in(browser, live_server.url, "bia", STAFF_PASSWORD)
    wait_for(browser, "#site-name")
    browser.get(f"{live_server.url}{CONSULTATIONS}")
    visited = []

    wait_for(browser, "#searchbar").send_keys("\u00a0529 982 247 25")
    follow(browser, "#changelist-search [type=submit]")
    visited.append(browser.current_url)
    assert wait_for(browser, "#searchbar").get_attribute("value") == "***.982.247-**"
    assert browser.find_element("css selector", "#result_list").text.count("***.982.247-**") == 1
    follow(browser, "#changelist-filter a[href*='outcome__exact=scored']")
    visited.append(browser.current_url)
    export = browser.find_element("css selector", "#audit-export-form").get_attribute("action")
    # The masked CPF sent again is the same search.
    follow(browser, "#changelist-search [type=submit]")
    visited.append(browser.current_url)

    assert "***.444.777-**" not in browser.find_element("css selector", "#result_list").text
    assert "***.982.247-**" in browser.find_element("css selector", "#result_list").text
    assert [url for url in [*visited, export] if holds_a_cpf(url)] == []
    assert all("q=cpf-" in url for url in [*visited, export])
