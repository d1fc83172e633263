"""The auditors' pages in headless Chromium, as an Auditor uses them: the audit trail with
a range of days, one audited query, the usage report's charts, the report for a CPF.

Screenshots go to SCREENSHOTS_DIR when it is set (for people to look at).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import formats, timezone, translation

from accounts.staff import StaffRole
from audit.models import AuditExport, AuditExportDownload, CpfReportRun
from audit.services.usage import usage_summarize
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, wait_for
from scores.models import Consultation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def month_of_traffic():
    """A month of synthetic traffic (every outcome, eight organizations), summarized."""
    call_command("generate_audit_rows", "4000", "--days", "30", "--force", stdout=StringIO())
    usage_summarize(now=timezone.now() + timedelta(minutes=10))


@pytest.fixture
def signed_in_auditor(browser, live_server, staff_member):
    staff_member("bia", role=StaffRole.AUDITORS)
    browser_sign_in(browser, live_server.url, "bia", STAFF_PASSWORD)
    wait_for(browser, "#site-name")
    return browser


def admin_url(live_server, path):
    return f"{live_server.url}/{settings.ADMIN_URL}{path}"


def test_if_an_auditor_opens_the_usage_report_then_its_three_charts_are_drawn(
    signed_in_auditor, live_server, month_of_traffic
):
    browser = signed_in_auditor

    browser.get(admin_url(live_server, "audit/usagereport/"))

    assert wait_for(browser, "h1").text == "Relatório de uso"
    for chart in ("chart-outcomes", "chart-latency", "chart-scores"):
        wait_for(browser, f"#{chart}[data-drawn='true']")
        datasets = browser.execute_script(
            "return Chart.getChart(arguments[0]).data.datasets.map(d => d.label)",
            browser.find_element("css selector", f"#{chart}"),
        )
        assert datasets, chart
    outcomes = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-outcomes')).data.datasets"
        ".map(d => d.label)"
    )
    assert outcomes[0] == "Scores fornecidos"
    assert (
        "São contadas as consultas até"
        in browser.find_element("css selector", "#usage-coverage").text
    )
    rows = browser.find_elements("css selector", "#usage-by-key tbody tr")
    assert len(rows) > 8  # every generated key, and failed authentications
    screenshot(browser, "usage-report-pt-br")
    browser.execute_script("document.getElementById('usage-by-key').scrollIntoView()")
    screenshot(browser, "usage-report-tables-pt-br")


def test_if_an_auditor_runs_the_report_for_a_cpf_then_the_organizations_show_and_it_is_recorded(
    signed_in_auditor, live_server, month_of_traffic
):
    browser = signed_in_auditor
    browser.get(admin_url(live_server, "audit/cpfreport/"))

    wait_for(browser, "#id_cpf").send_keys("529.982.247-25")
    browser.find_element("css selector", "#id_reason").send_keys("Protocolo 2026-118")
    follow(browser, "#cpf-report-form button[value=page]")

    report = wait_for(browser, "#cpf-report")
    assert "Consultas ao score do CPF ***.982.247-**" in report.text
    assert browser.find_elements("css selector", "#cpf-report-organizations tbody tr")
    assert "529.982.247-25" not in report.text
    assert browser.current_url.endswith("/audit/cpfreport/")  # the CPF is not in the address
    run = CpfReportRun.objects.get()
    assert (run.actor_name, run.cpf_masked) == ("bia", "***.982.247-**")
    screenshot(browser, "cpf-report-pt-br")


def test_if_an_auditor_types_a_wrong_cpf_then_the_report_says_so(
    signed_in_auditor, live_server, month_of_traffic
):
    browser = signed_in_auditor
    browser.get(admin_url(live_server, "audit/cpfreport/"))

    wait_for(browser, "#id_cpf").send_keys("529.982.247-26")
    browser.find_element("css selector", "#id_reason").send_keys("Protocolo 2026-118")
    follow(browser, "#cpf-report-form button[value=page]")

    assert "Informe um CPF válido" in wait_for(browser, ".errorlist").text
    assert not CpfReportRun.objects.exists()
    screenshot(browser, "cpf-report-invalid-pt-br")


def test_if_an_auditor_narrows_the_audit_trail_to_days_then_pages_older_and_opens_a_row(
    signed_in_auditor, live_server, month_of_traffic
):
    browser = signed_in_auditor
    today = timezone.localdate()
    browser.get(admin_url(live_server, "scores/consultation/?outcome__exact=scored"))

    # The date pickers' typing order follows the browser's locale; the values they submit
    # are ISO days, set here directly.
    for field, day in (
        ("#id_occurred_from", today - timedelta(days=6)),
        ("#id_occurred_to", today),
    ):
        browser.execute_script(
            "arguments[0].value = arguments[1]", wait_for(browser, field), day.isoformat()
        )
    follow(browser, "#occurred-between-filter button")

    wait_for(browser, "#result_list tbody tr")
    assert "occurred_from=" in browser.current_url
    assert "outcome__exact=scored" in browser.current_url
    assert "consultas" in browser.find_element("css selector", "#audit-pages").text
    screenshot(browser, "audit-trail-pt-br")
    follow(browser, "#audit-pages .audit-older")
    wait_for(browser, "#audit-pages .audit-newer")
    assert "before=" in browser.current_url
    follow(browser, "#result_list tbody tr th a")

    detail = wait_for(browser, "#content-main").text
    row = Consultation.objects.get(pk=int(urlparse(browser.current_url).path.split("/")[-3]))
    assert str(row.request_id) in detail
    assert row.cpf_masked in detail
    screenshot(browser, "consultation-detail-pt-br")


def test_if_an_auditor_exports_the_filtered_trail_then_the_button_posts_and_a_csv_downloads(
    signed_in_auditor, live_server, month_of_traffic, tmp_path
):
    """The export is a POST from the page's button (with its CSRF token): the export's page
    then offers its file, and the browser downloads the CSV of the filters shown; the
    export and the download are recorded."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser = signed_in_auditor
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.get(admin_url(live_server, "scores/consultation/?outcome__exact=rate_limited"))
    button = wait_for(browser, "#audit-export")
    assert button.text == "EXPORTAR CSV"  # drawn as the other object tools
    screenshot(browser, "audit-trail-export-button-pt-br")

    button.click()
    # The export's page: its task wrote the file (in the request, off Lambda); downloading
    # it is a POST too, and is recorded.
    download = wait_for(browser, "#export-download")
    assert wait_for(browser, "#export-status").text.startswith("Pronta")
    screenshot(browser, "audit-export-page-pt-br")
    download.click()

    WebDriverWait(browser, 20).until(lambda _: list(tmp_path.glob("consultas-de-score-*.csv")))
    (downloaded,) = tmp_path.glob("consultas-de-score-*.csv")
    rows = downloaded.read_text(encoding="utf-8-sig").splitlines()
    export = AuditExport.objects.get()
    assert export.filters == "outcome__exact=rate_limited"
    assert len(rows) == 1 + export.row_count > 1
    assert all(";Limite de requisições excedido;" in row for row in rows[1:])
    assert AuditExportDownload.objects.get().export == export


def test_if_the_usage_report_is_read_in_english_then_charts_and_tables_are_english(
    signed_in_auditor, live_server, month_of_traffic
):
    browser = signed_in_auditor
    browser.get(admin_url(live_server, "audit/usagereport/"))
    language = wait_for(browser, "#language-form select")
    language.find_element("css selector", "option[value=en]").click()
    follow(browser, "#language-form button")

    wait_for(browser, "#chart-outcomes[data-drawn='true']")
    assert browser.find_element("css selector", "h1").text == "Usage report"
    outcomes = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-outcomes')).data.datasets"
        ".map(d => d.label)"
    )
    assert outcomes[0] == "Scores served"
    labels = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-outcomes')).data.labels"
    )
    with translation.override("en"):
        assert labels[-1] == formats.date_format(timezone.localdate(), "MONTH_DAY_FORMAT")
    assert "." in labels[-1] or labels[-1].split()[0].isalpha()  # "Nov. 22", not "22/11"
    screenshot(browser, "usage-report-en")
