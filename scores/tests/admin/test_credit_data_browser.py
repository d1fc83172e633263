"""The credit data operators' pages in headless Chromium, as an operator uses them: upload a
CSV file, read the preview, confirm, see the result; open a profile with its score and
reasons; open the scorecards.

Screenshots go to SCREENSHOTS_DIR when it is set (for people to look at).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.staff import StaffRole
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, wait_for
from scores.imports.profile_file import COLUMNS
from scores.models import CreditProfile, ProfileImport
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("score_table")]

GOOD_ROW = "0.9800,0,0,0,0,0.2500,1,96,3"
WEAK_ROW = "0.7200,2,45,1,0,0.8500,4,20,7"


@pytest.fixture
def signed_in_operator(browser, live_server, staff_member):
    staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)
    browser_sign_in(browser, live_server.url, "otto", STAFF_PASSWORD)
    wait_for(browser, "#site-name")
    return browser


def admin_url(live_server, path):
    return f"{live_server.url}/{settings.ADMIN_URL}{path}"


def test_if_an_operator_imports_a_file_then_previews_confirms_and_reads_the_scores(
    signed_in_operator, live_server, make_profile, tmp_path
):
    browser = signed_in_operator
    make_profile(EXAMPLE_CPF)
    csv = tmp_path / "perfis-novembro.csv"
    csv.write_text(
        "\n".join(
            [
                ",".join(COLUMNS),
                f"{EXAMPLE_CPF},{WEAK_ROW}",
                f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}",
                f"529.982.247-26,{GOOD_ROW}",
                "390.533.447-05,1.5,x,0,0,0,0.25,1,96,3",
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    browser.get(admin_url(live_server, "scores/creditprofile/"))
    wait_for(browser, "#import-profiles-link").click()
    wait_for(browser, "#id_file").send_keys(str(csv))
    browser.find_element("css selector", "#import-upload-form [type=submit]").click()

    preview = wait_for(browser, "#import-preview")
    assert wait_for(browser, "#preview-create").text == "1"
    assert browser.find_element("css selector", "#preview-update").text == "1"
    assert browser.find_element("css selector", "#preview-bad").text == "2"
    errors = browser.find_element("css selector", "#import-errors").text
    assert "529.982.247-26" not in errors
    assert "on_time_payment_ratio" in errors
    assert (
        "Verificado, aguardando confirmação"
        in browser.find_element("css selector", "#import-status").text
    )
    assert preview.is_displayed()
    screenshot(browser, "import-preview-pt-br")
    browser.find_element("css selector", "#import-confirm").click()

    result = wait_for(browser, "#import-result")
    assert browser.find_element("css selector", "#result-created").text == "1"
    assert browser.find_element("css selector", "#result-updated").text == "1"
    assert "Importado" in browser.find_element("css selector", "#import-status").text
    assert result.is_displayed()
    screenshot(browser, "import-result-pt-br")
    assert ProfileImport.objects.get().status == ProfileImport.Status.IMPORTED
    assert CreditProfile.objects.count() == 2

    browser.get(admin_url(live_server, "scores/creditprofile/"))
    search = wait_for(browser, "#searchbar")
    search.send_keys("529.982.247-25")
    search.submit()
    wait_for(browser, "#result_list tbody tr th a").click()

    score = wait_for(browser, "#profile-score")
    assert browser.find_elements("css selector", ".profile-score-reasons li")
    assert "Negativações ativas" in score.text
    assert "probabilidade de inadimplência" in score.text
    screenshot(browser, "profile-detail-pt-br")

    browser.get(admin_url(live_server, "scores/scorecardversion/"))
    active = wait_for(browser, ".scorecard-active")
    assert active.text == "ativo"
    assert "Poucas contas pagas em dia" in browser.find_element("css selector", "#content").text
    screenshot(browser, "scorecards-pt-br")


def test_if_there_is_an_operations_bucket_then_the_browser_sends_the_file_to_s3_and_returns(
    signed_in_operator, live_server, operations_bucket, tmp_path
):
    browser = signed_in_operator
    csv = tmp_path / "perfis-março.csv"
    csv.write_text(
        f"{','.join(COLUMNS)}\n{EXAMPLE_CPF},{GOOD_ROW}\n{OTHER_EXAMPLE_CPF},{WEAK_ROW}\n",
        encoding="utf-8",
    )

    browser.get(admin_url(live_server, "scores/profileimport/add/"))
    form = wait_for(browser, "#import-upload-form")
    assert operations_bucket in form.get_attribute("action")  # straight to the bucket
    browser.find_element("css selector", "#id_strict option[value=yes]").click()
    browser.find_element("css selector", "#id_file").send_keys(str(csv))
    browser.find_element("css selector", "#import-upload-form [type=submit]").click()

    assert wait_for(browser, "#preview-create").text == "2"
    record = ProfileImport.objects.get()
    assert record.file_location == f"s3://{operations_bucket}/imports/{record.pk}.csv"
    assert (record.file_name, record.strict) == ("perfis-março.csv", True)
    browser.find_element("css selector", "#import-confirm").click()
    wait_for(browser, "#import-result")
    assert CreditProfile.objects.count() == 2


def test_if_an_operator_invalidates_every_cached_score_then_the_next_request_computes_it(
    signed_in_operator, live_server, make_profile, client_with_key
):
    browser = signed_in_operator
    make_profile(EXAMPLE_CPF)
    score = {"cpf": EXAMPLE_CPF}
    client_with_key.post("/api/v1/scores", score, format="json")
    assert client_with_key.post("/api/v1/scores", score, format="json").json()["source"] == "cache"

    browser.get(admin_url(live_server, "scores/creditprofile/"))
    follow(browser, wait_for(browser, "#invalidate-all-link"))
    form = wait_for(browser, "#invalidate-all-form")
    assert "Invalidar todos os scores em cache" in browser.find_element("css selector", "h1").text
    screenshot(browser, "invalidate-all-pt-br")
    follow(browser, form.find_element("css selector", "[type=submit]"))

    assert "Todos os scores em cache foram invalidados" in wait_for(browser, ".messagelist").text
    assert client_with_key.post("/api/v1/scores", score, format="json").json()["source"] == (
        "computed"
    )
