"""The staff's portal as each role walks it, in headless Chromium at 1366x768 with the
sidebar open: every page the role can reach from its start page and sidebar (each list, a
row's page, the add form, the other pages linked from a row's page) reads in Portuguese,
and every table on it fits the window.

Screenshots go to SCREENSHOTS_DIR when it is set (for people to look at).
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from io import StringIO
from pathlib import Path
from urllib.parse import urlparse

import django
import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils import timezone, translation

from accounts.staff import StaffRole
from audit.local_days import midnight
from audit.models import CpfReportRun, DailyUsageStatus
from audit.services import audit_export_record, cpf_report_record
from audit.services.usage import usage_summarize
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, totp_code, wait_for
from scores.constants import OUTCOME_SCORED
from scores.core.cpf import Cpf
from scores.models import Consultation, CreditProfile
from scores.selectors import active_scorecard
from scores.services import credit_profile_update
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("score_table")]

PROJECT = Path(__file__).resolve().parents[2]
# The apps whose labels the staff may see: ours, and the third-party apps the admin shows.
SHOWN_APPS = ("accounts", "audit", "scores", "axes", "otp_totp", "auth", "admin")
# Words the same in English and in the Portuguese the admin shows (names, standards).
SAME_IN_BOTH = {"score", "scores", "portal", "hash", "token", "status", "login"}
# Each language's name, in its own language, in the language chooser.
SAME_IN_BOTH |= {"english", "português", "brasil"}


@cache
def english_words() -> frozenset[str]:
    """Words of the English labels of the admin and of the apps it shows (models, fields,
    help texts, choices, the admin's own strings), less every word that is also
    Portuguese (any word of a pt-BR translation of ours or of Django's)."""
    labels: list[str] = [str(role.label) for role in StaffRole]
    with translation.override("en"):
        for app_label in SHOWN_APPS:
            for model in apps.get_app_config(app_label).get_models():
                opts = model._meta
                labels += [str(opts.verbose_name), str(opts.verbose_name_plural)]
                for field in opts.get_fields():
                    if isinstance(field, models.Field):
                        labels += [str(field.verbose_name), str(field.help_text)]
                        labels += [str(label) for _value, label in field.flatchoices]
    portuguese: set[str] = set()
    catalogs = [PROJECT / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"]
    django_root = Path(django.__file__).parent
    catalogs += [
        django_root / "contrib" / app / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"
        for app in ("admin", "auth")
    ]
    admin_catalog = polib.pofile(str(catalogs[-2]))
    labels += [entry.msgid for entry in admin_catalog if entry.translated()]
    for catalog in catalogs:
        for entry in polib.pofile(str(catalog)):
            for text in (entry.msgstr, *entry.msgstr_plural.values()):
                portuguese |= set(words(text))
    return frozenset(
        word
        for label in labels
        for word in words(label)
        if len(word) >= 4 and word not in portuguese and word not in SAME_IN_BOTH
    )


def words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ]+", re.sub(r"%\(\w+\)\w", " ", text))]


# The text a person reads on the page: visible text, the choices of its menus and the
# labels of its buttons; not the identifiers shown as code (a file's column names, a key's
# prefix) nor what is English on purpose (lang="en": the reasons the API gives in English).
READ_TEXT = """
const parts = [document.title];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const element = walker.currentNode.parentElement;
  if (!element || element.closest('code, [lang=en], script, style, template')) continue;
  if (!element.closest('select') && !element.checkVisibility()) continue;
  parts.push(walker.currentNode.textContent);
}
document.querySelectorAll('input[type=submit], input[type=button]').forEach(
  b => { if (b.checkVisibility()) parts.push(b.value); });
return parts.join(' ');
"""


def english_on_page(browser) -> list[str]:
    text = browser.execute_script(READ_TEXT)
    text = re.sub(r"\S*/\S*", " ", text)  # addresses and routes (POST /api/v1/scores)
    text = re.sub(r"\S+\.csv\b", " ", text)  # the names of uploaded files
    return sorted({word for word in words(text) if word in english_words()})


def tables_past_the_edge(browser) -> list[str]:
    """Each table whose right edge is past the window's, or that its box scrolls
    sideways (the admin wraps lists in a box that scrolls: a column past its edge is as
    hidden as one past the window's)."""
    return list(
        browser.execute_script(
            "const width = document.documentElement.clientWidth; const out = [];"
            "document.querySelectorAll('#content table').forEach(t => {"
            "  if (t.offsetParent === null) return;"
            "  const name = t.id || t.className || 'table';"
            "  const right = t.getBoundingClientRect().right;"
            "  if (right > width + 1)"
            "    out.push(name + ': ' + Math.round(right) + ' px in ' + width);"
            "  for (let box = t.parentElement; box && box !== document.body;"
            "       box = box.parentElement) {"
            "    const overflow = getComputedStyle(box).overflowX;"
            "    if (overflow !== 'visible' && box.scrollWidth > box.clientWidth + 1) {"
            "      out.push(name + ': ' + box.scrollWidth + ' px in a box of ' + box.clientWidth);"
            "      break;"
            "    }"
            "  }"
            "});"
            "return out;"
        )
    )


@pytest.fixture
def a_month_of_work(staff_member, django_user_model):
    """What a role finds after a month: keys issued, rotated and revoked, profiles
    imported, consultations summarized, an export and a report for a CPF recorded, and a
    failed sign-in that locked a username out."""
    call_command("seed_demo", "--profiles", "30", "--force", stdout=StringIO())
    call_command("generate_audit_rows", "600", "--days", "30", "--force", stdout=StringIO())
    usage_summarize(now=timezone.now())
    auditor = staff_member("bia", role=StaffRole.AUDITORS)
    audit_export_record(actor=auditor, filters={"outcome__exact": ["scored"]}, row_count=3)
    today = timezone.localdate()
    cpf_report_record(
        actor=auditor,
        cpf=Cpf.parse(EXAMPLE_CPF),
        period_start=today.replace(day=1),
        period_end=today,
        output=CpfReportRun.Output.PAGE,
        row_count=2,
    )
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        Client().post(f"/{settings.ADMIN_URL}login/", {"username": "bia", "password": "not it"})
    credit_profile_update(
        profile=CreditProfile.objects.order_by("pk")[0],
        values={"protests": 3},
        protocol="2026-0042",
        reason="Protesto registrado pelo cartório.",
        actor=staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS),
    )
    call_command("axes_reset_username", "bia", stdout=StringIO())
    Client().post(f"/{settings.ADMIN_URL}login/", {"username": "teo", "password": "not it"})


ROLES = {
    "key-managers": StaffRole.KEY_MANAGERS,
    "auditors": StaffRole.AUDITORS,
    "credit-data-operators": StaffRole.CREDIT_DATA_OPERATORS,
    "model-approvers": StaffRole.MODEL_APPROVERS,
    "consumer-service": StaffRole.CONSUMER_SERVICE,
}


def signed_in(browser, live_server, staff_user, role):
    user, device = staff_user(
        "rosa", role=role, superuser=role is None, totp=role in (StaffRole.KEY_MANAGERS, None)
    )
    code = totp_code(device.bin_key) if device else ""
    browser_sign_in(browser, live_server.url, user.username, STAFF_PASSWORD, code)
    wait_for(browser, "#site-name")
    return user


def pages_of(browser, live_server) -> list[str]:
    """The admin addresses linked from the sidebar and the start page."""
    admin = f"{live_server.url}/{settings.ADMIN_URL}"
    browser.get(admin)
    wait_for(browser, "#content")
    hrefs = browser.execute_script(
        "return [...document.querySelectorAll('#nav-sidebar a, #content a')].map(a => a.href)"
    )
    return sorted({h.split("#")[0] for h in hrefs if h.startswith(admin) and h != admin})


def linked_from(browser, css: str) -> list[str]:
    return list(
        browser.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(a => a.href)", css
        )
    )


@pytest.mark.parametrize("role", list(ROLES.values()), ids=list(ROLES))
def test_if_a_role_walks_its_pages_then_each_reads_in_portuguese_and_its_tables_fit(
    browser, live_server, staff_user, a_month_of_work, role, request
):
    signed_in(browser, live_server, staff_user, role)
    # The browser's own controls (a file field's button, a date's placeholder) are not in
    # the page's text: they read in Portuguese when the browser runs in Portuguese.
    assert browser.execute_script("return navigator.language") == "pt-BR"
    admin = f"{live_server.url}/{settings.ADMIN_URL}"
    seen: dict[str, list[str]] = {}
    too_wide: dict[str, list[str]] = {}

    def visit(url: str) -> None:
        path = urlparse(url).path
        if path in seen or "logout" in path or "/export" in path:
            return
        browser.get(url)
        wait_for(browser, "body")
        if not browser.find_elements("css selector", "#content"):
            seen[path] = ["(a page without the admin's layout)"]
            return
        seen[path] = english_on_page(browser)
        page = path.removeprefix(f"/{settings.ADMIN_URL}").strip("/").replace("/", "-")
        screenshot(browser, f"{request.node.callspec.id}-{page[:60] or 'start-page'}")
        too_wide[path] = tables_past_the_edge(browser)

    to_visit = pages_of(browser, live_server)
    assert to_visit, "the start page links to nothing"
    visit(admin)
    for url in to_visit:
        visit(url)
        rows = linked_from(browser, "#result_list tbody tr a[href*='/change/']")[:1]
        adding = linked_from(browser, ".object-tools a.addlink")
        for detail in [*rows, *adding]:
            visit(detail)
            for tool in linked_from(browser, ".object-tools a, .submit-row a"):
                if tool.startswith(admin) and "delete" not in tool:
                    visit(tool)
    visit(f"{admin}auth/group/add/")  # no role's: the page that says so

    problems = [f"{p}: {found}" for p, found in seen.items() if found]
    problems += [f"{p}: {found}" for p, found in too_wide.items() if found]
    assert problems == [], "\n".join(problems)
    assert len(seen) > 4


def figure(browser, figure_id: str) -> tuple[int, str]:
    """A start page figure's number and the address it links to."""
    link = wait_for(browser, f"#figure-{figure_id} a")
    return int(link.text.replace(".", "")), str(link.get_attribute("href"))


def result_rows(browser) -> int:
    return len(browser.find_elements("css selector", "#result_list tbody tr"))


def test_if_a_key_manager_opens_the_start_page_then_keys_to_act_on_link_to_their_lists(
    browser, live_server, staff_user, issue_key
):
    soon = timezone.now() + timedelta(days=3)
    issue_key(name="expira logo", expiry_date=soon)
    issue_key(name="expira logo também", expiry_date=soon)
    issue_key(name="sem prazo")
    signed_in(browser, live_server, staff_user, StaffRole.KEY_MANAGERS)

    assert wait_for(browser, "#panel-keys h2").text == "Chaves de API que pedem atenção"
    expiring, url = figure(browser, "keys-expiring")
    assert figure(browser, "keys-unused")[0] == 0  # issued today
    events = browser.find_elements("css selector", "#panel-keys .start-items li")
    assert len(events) == 3
    assert "Chave emitida" in events[0].text
    assert not browser.find_elements("css selector", "#panel-consultations, #panel-credit-data")
    screenshot(browser, "start-page-key-managers")

    browser.get(url)
    wait_for(browser, "#result_list")
    assert expiring == 2 == result_rows(browser)


def test_if_an_auditor_opens_the_start_page_then_consultations_by_outcome_link_to_the_trail(
    browser, live_server, staff_user, a_month_of_work
):
    signed_in(browser, live_server, staff_user, StaffRole.AUDITORS)

    served_today, url = figure(browser, "today-served")
    served_month = figure(browser, "month-served")[0]
    today = timezone.localdate()
    # What the summary counts: up to its coverage (the last minutes settle first).
    counted = DailyUsageStatus.objects.get(day=today).covered_until
    served = Consultation.objects.filter(outcome=OUTCOME_SCORED, occurred_at__lt=counted)
    assert served_today == served.filter(occurred_at__gte=midnight(today)).count()
    assert served_month == served.filter(occurred_at__gte=midnight(today.replace(day=1))).count()
    assert "Contadas até" in browser.find_element("css selector", "#panel-consultations").text
    assert (
        "Exportação da trilha de auditoria: 3 linhas"
        in wait_for(browser, "#panel-audit-records").text
    )
    assert figure(browser, "lockouts")[0] == 0  # bia was unlocked
    assert figure(browser, "sign-in-failures")[0] == settings.AXES_FAILURE_LIMIT + 1
    assert not browser.find_elements("css selector", "#panel-keys, #panel-credit-data")
    screenshot(browser, "start-page-auditors")

    browser.get(url)
    wait_for(browser, "#result_list")
    outcomes = {e.text for e in browser.find_elements("css selector", ".field-outcome")}
    assert outcomes == ({"Score fornecido"} if served_today else set())


def test_if_an_operator_opens_the_start_page_then_imports_and_the_active_scorecard_show(
    browser, live_server, staff_user, a_month_of_work
):
    signed_in(browser, live_server, staff_user, StaffRole.CREDIT_DATA_OPERATORS)

    panel = wait_for(browser, "#panel-credit-data")
    assert "Importado" in panel.find_element("css selector", ".start-items").text
    assert wait_for(browser, "#figure-active-scorecard a").text == active_scorecard().version
    assert not browser.find_elements("css selector", "#panel-keys, #panel-consultations")
    screenshot(browser, "start-page-credit-data-operators")

    follow(browser, "#panel-credit-data .start-items a")
    assert "Importado" in wait_for(browser, "#import-status").text
    screenshot(browser, "import-page")
