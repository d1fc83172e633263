"""The whole life of a scorecard version in headless Chromium, with two staff members and
two API server processes: a bad upload first, a good one, the proposal, the impact page,
the proposer's own approval refused, the approval by a second person, both servers
answering the new model_version from their next request, the rollback.

Screenshots go to SCREENSHOTS_DIR when it is set (for people to look at).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from accounts.staff import StaffRole
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, wait_for
from scores.core.scorecard import SCORECARD_DIR
from scores.models import ScorecardEvent
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("score_table"),
]


def admin_url(live_server, path=""):
    return f"{live_server.url}/{settings.ADMIN_URL}scores/scorecardversion/{path}"


def model_version(server, plaintext):
    request = urllib.request.Request(  # noqa: S310 (loopback http)
        f"{server.url}/api/v1/scores",
        data=json.dumps({"cpf": EXAMPLE_CPF}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": plaintext},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())["model_version"]


def sign_in_as(browser, live_server, username):
    browser.delete_all_cookies()
    browser_sign_in(browser, live_server.url, username, STAFF_PASSWORD)
    wait_for(browser, "#site-name")


def test_if_two_people_take_a_version_through_its_life_then_the_api_follows_each_decision(
    browser, live_server, staff_member, make_profile, issue_key, start_servers, tmp_path
):
    proposer = staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)
    # The proposer may also approve: the four-eyes rule, not the role, refuses them.
    proposer.groups.add(Group.objects.get(name=StaffRole.MODEL_APPROVERS))
    staff_member("vera", role=StaffRole.MODEL_APPROVERS)
    make_profile(EXAMPLE_CPF)
    _key, plaintext = issue_key()
    servers = start_servers(2)
    assert [model_version(server, plaintext) for server in servers] == ["2026.1", "2026.1"]
    good = json.loads((SCORECARD_DIR / "2026.2.json").read_text("utf-8"))
    good["version"] = "2027.1"
    bad = json.loads(json.dumps(good))
    bad["characteristics"][1]["bins"][2]["points"] = 90
    bad["characteristics"][2]["bins"][1]["lower"] = 2
    (tmp_path / "ruim.json").write_text(json.dumps(bad), encoding="utf-8")
    (tmp_path / "2027.1.json").write_text(json.dumps(good), encoding="utf-8")

    # The operator: a bad file first, every problem listed; then the good one.
    sign_in_as(browser, live_server, "otto")
    browser.get(admin_url(live_server))
    follow(browser, "#scorecard-upload-link")
    wait_for(browser, "#id_file").send_keys(str(tmp_path / "ruim.json"))
    follow(browser, "#scorecard-upload-form [type=submit]")
    violations = wait_for(browser, "#scorecard-violations").text
    assert "characteristics[1].bins[2].points" in violations
    assert "Os pontos não podem subir quando o risco aumenta." in violations
    assert "characteristics[2].bins[1].lower" in violations
    screenshot(browser, "scorecard-upload-refused")
    browser.find_element("css selector", "#id_file").send_keys(str(tmp_path / "2027.1.json"))
    follow(browser, "#scorecard-upload-form [type=submit]")
    assert "Scorecard 2027.1 armazenado" in wait_for(browser, ".messagelist").text

    # The proposal, its impact, and the proposer's own approval refused.
    wait_for(browser, "#reason-2027\\.1").send_keys("Atrasos recentes pesam mais")
    follow(browser, "#propose-2027\\.1 [type=submit]")
    wait_for(browser, "#impact-all")
    wait_for(browser, "#chart-all[data-drawn=true]")
    assert "Calculado" in browser.find_element("css selector", "#impact-status").text
    assert browser.find_element("css selector", "#matrix-all").is_displayed()
    screenshot(browser, "scorecard-impact")
    assert "Proposta sua" in browser.find_element("css selector", "#own-proposal-note").text
    follow(browser, "#approve-button")
    assert "sua própria proposta" in wait_for(browser, ".messagelist").text
    assert [model_version(server, plaintext) for server in servers] == ["2026.1", "2026.1"]
    proposal_page = browser.current_url

    # The second person approves: both servers answer the new version from their next request.
    sign_in_as(browser, live_server, "vera")
    browser.get(proposal_page)
    wait_for(browser, "#id_reason").send_keys("Validado pelo comitê de modelos")
    follow(browser, "#approve-button")
    assert "está ativo a partir da próxima requisição" in wait_for(browser, ".messagelist").text
    screenshot(browser, "scorecard-approved")
    assert [model_version(server, plaintext) for server in servers] == ["2027.1", "2027.1"]

    # The rollback: confirmed, with a reason, followed by both servers.
    browser.get(admin_url(live_server))
    follow(browser, "#scorecard-rollback-link")
    assert "Reverter para 2026.1?" in wait_for(browser, "#rollback-question").text
    browser.find_element("css selector", "#id_reason").send_keys("Reclamações de parceiros")
    follow(browser, "#scorecard-rollback-form [type=submit]")
    assert "Revertido" in wait_for(browser, ".messagelist").text
    assert [model_version(server, plaintext) for server in servers] == ["2026.1", "2026.1"]
    assert list(ScorecardEvent.objects.order_by("id").values_list("action", "actor_name")) == [
        ("uploaded", "otto"),
        ("proposed", "otto"),
        ("impact_computed", "task"),
        ("approved", "vera"),
        ("activated", "vera"),
        ("rolled_back", "vera"),
    ]
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}scores/scorecardevent/")
    wait_for(browser, "#result_list")
    screenshot(browser, "scorecard-record")


def test_if_an_approver_sets_a_challenger_then_the_comparison_and_stability_pages_show_figures(
    browser, live_server, staff_member, make_profile, client_with_key, admin_user
):
    from datetime import date, timedelta

    from django.utils import timezone

    from audit.local_days import midnight
    from audit.models import DailyUsage, DailyUsageStatus
    from scoreportal.tests.test_staff_portal_browser import english_on_page, tables_past_the_edge
    from scores.cache import score_cache
    from scores.selectors import scorecard_get
    from scores.tests.fixtures import OTHER_EXAMPLE_CPF

    staff_member("vera", role=StaffRole.MODEL_APPROVERS)
    make_profile(EXAMPLE_CPF, delinquencies_30d_12m=1)
    make_profile(OTHER_EXAMPLE_CPF, on_time_payment_ratio="0.85", delinquencies_30d_12m=1)
    # 2026.2 active for 45 days, the served bands drifting from the fourth week on.
    activated = timezone.now() - timedelta(days=45)
    ScorecardEvent.objects.create(
        action="activated",
        version="2026.2",
        previous_version="2026.1",
        actor=admin_user,
        occurred_at=activated,
    )
    score_cache.scorecard_activate("2026.2")
    first = timezone.localdate(activated) + timedelta(days=1)
    sizes = [len(c.bins) for c in scorecard_get("2026.2").characteristics]
    for offset in range(45):
        drift = max(0, offset - 21)
        bands = (40 + 2 * drift, 120 + 3 * drift, 300 - 2 * drift, 240 - 3 * drift)
        # Each band's scores in two 10-point buckets; two characteristics drift too.
        buckets = {}
        for (low, high), count in zip(((20, 25), (40, 45), (55, 65), (75, 85)), bands, strict=True):
            buckets[low], buckets[high] = count // 2, count - count // 2
        bins = [[100] * size for size in sizes]
        bins[0][0] += 20 * drift
        bins[1][-1] += 3 * drift
        day = first + timedelta(days=offset)
        DailyUsage.objects.create(
            day=day,
            band_low=bands[0],
            band_fair=bands[1],
            band_good=bands[2],
            band_excellent=bands[3],
        )
        DailyUsageStatus.objects.create(
            day=day,
            covered_until=midnight(day + timedelta(days=1)),
            complete=True,
            summarized_at=midnight(day + timedelta(days=1)),
            score_histogram=[buckets.get(bucket, 0) for bucket in range(100)],
            characteristic_bins={"2026.2": {"bins": bins, "unknown": 3}},
        )
    assert first + timedelta(days=44) <= date.today() + timedelta(days=1)

    sign_in_as(browser, live_server, "vera")
    browser.get(admin_url(live_server, "challenger/"))
    wait_for(browser, "#id_version option[value='2026.1']").click()
    share = browser.find_element("css selector", "#id_share")
    share.clear()
    share.send_keys("100")
    browser.find_element("css selector", "#id_reason").send_keys("Comparar com o anterior")
    follow(browser, "#challenger-form [type=submit]")
    assert "Desafiante salvo." in wait_for(browser, ".messagelist").text
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        answer = client_with_key.post("/api/v1/scores", {"cpf": cpf}, format="json").json()
        assert answer["model_version"] == "2026.2"
    browser.refresh()
    assert wait_for(browser, "#compared").text == "2"
    assert browser.find_element("css selector", "#challenger-matrix").is_displayed()
    screenshot(browser, "scorecard-challenger-comparison")

    browser.get(f"{live_server.url}/{settings.ADMIN_URL}audit/stabilityreport/")
    wait_for(browser, "#chart-psi[data-drawn=true]")
    weeks = browser.find_element("css selector", "#stability-weeks").text
    assert "estável" in weeks
    assert "atenção" in weeks or "agir" in weeks
    screenshot(browser, "stability-report")
    # Characteristic stability: every characteristic by its label, readings in Portuguese,
    # the tables within the window (1366 px, the sidebar open).
    wait_for(browser, "#chart-csi[data-drawn=true]")
    csi = browser.find_element("css selector", "#csi-weeks").text
    assert "pagamentos em dia (12 meses)" in csi.lower()
    assert "estável" in csi
    assert "agir" in csi
    assert browser.find_element("css selector", "#csi-months").is_displayed()
    assert tables_past_the_edge(browser) == []
    assert english_on_page(browser) == []
    browser.execute_script("document.getElementById('csi').scrollIntoView()")
    screenshot(browser, "stability-report-csi")
