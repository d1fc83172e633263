"""The consumer service and a credit data operator in headless Chromium: register a
suspension and a dispute, see what the API answers, correct the disputed profile and
resolve the dispute.

Screenshots go to SCREENSHOTS_DIR when it is set (for people to look at).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from selenium.webdriver.support.ui import Select

from accounts.constants import Scope
from accounts.staff import StaffRole
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, wait_for
from scores.models import ConsumerRequest, ConsumerRequestState, CreditProfile
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("score_table")]


def admin_url(live_server, path):
    return f"{live_server.url}/{settings.ADMIN_URL}{path}"


def api(live_server, plaintext, path, body):
    request = urllib.request.Request(  # noqa: S310 (loopback http)
        f"{live_server.url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def register(browser, live_server, cpf, kind, channel, *, characteristics=(), reason=""):
    browser.get(admin_url(live_server, "scores/consumerrequest/add/"))
    wait_for(browser, "#id_cpf").send_keys(cpf)
    Select(browser.find_element("css selector", "#id_kind")).select_by_value(kind)
    Select(browser.find_element("css selector", "#id_channel")).select_by_value(channel)
    for name in characteristics:
        browser.find_element("css selector", f"input[name=characteristics][value={name}]").click()
    if reason:
        browser.find_element("css selector", "#id_reason").send_keys(reason)
    follow(browser, "input[name=_save]")
    return wait_for(browser, ".messagelist .success").text


def test_if_the_consumer_service_registers_a_suspension_and_a_dispute_then_the_api_and_an_operator_honour_them(  # noqa: E501
    browser, live_server, staff_member, make_profile, issue_key
):
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF, protests=2)
    _, plaintext = issue_key(scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH])
    assert api(live_server, plaintext, "/api/v1/scores", {"cpf": EXAMPLE_CPF})[0] == 200
    staff_member("carla", role=StaffRole.CONSUMER_SERVICE)
    staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)

    browser_sign_in(browser, live_server.url, "carla", STAFF_PASSWORD)
    wait_for(browser, "#site-name")
    index = browser.find_element("css selector", "#content-main").text
    assert "Pedidos dos consumidores" in index
    assert "Perfis de crédito" not in index
    # A bad CPF first: the form says why and keeps what was typed.
    browser.get(admin_url(live_server, "scores/consumerrequest/add/"))
    wait_for(browser, "#id_cpf").send_keys("529.982.247-26")
    follow(browser, "input[name=_save]")
    assert "Este não é um CPF válido." in wait_for(browser, ".field-cpf .errorlist").text
    screenshot(browser, "consumer-request-add-error")

    suspended = register(browser, live_server, EXAMPLE_CPF, "suspend", "phone")
    assert "Pedido registrado: protocolo" in suspended
    assert "suspenso" in suspended
    screenshot(browser, "consumer-request-suspension")
    disputed = register(
        browser,
        live_server,
        OTHER_EXAMPLE_CPF,
        "dispute",
        "web",
        characteristics=["protests"],
        reason="Diz que o protesto foi pago em outubro.",
    )
    assert "em contestação" in disputed
    assert EXAMPLE_CPF not in browser.current_url
    browser.get(admin_url(live_server, "scores/consumerrequest/"))
    rows = wait_for(browser, "#result_list").text
    assert "***.982.247-**" in rows
    assert "***.444.777-**" in rows
    assert "Em vigor" in rows
    assert "Aberta" in rows
    screenshot(browser, "consumer-requests-list")

    status, body = api(live_server, plaintext, "/api/v1/scores", {"cpf": EXAMPLE_CPF})
    assert (status, body["error"]["code"]) == (404, "score_suspended")
    status, body = api(
        live_server, plaintext, "/api/v1/scores/batch", {"cpfs": [EXAMPLE_CPF, OTHER_EXAMPLE_CPF]}
    )
    suspended_item, disputed_item = body["results"]
    assert suspended_item == {"status": "score_suspended", "cpf": "***.982.247-**"}
    assert (disputed_item["status"], disputed_item["under_dispute"]) == ("ok", True)

    browser.delete_all_cookies()
    browser_sign_in(browser, live_server.url, "otto", STAFF_PASSWORD)
    wait_for(browser, "#site-name")
    dispute = ConsumerRequest.objects.get(kind="dispute")
    profile = CreditProfile.objects.get(cpf_masked="***.444.777-**")
    browser.get(admin_url(live_server, f"scores/creditprofile/{profile.pk}/change/"))
    requests = wait_for(browser, "#profile-consumer-requests").text
    assert dispute.protocol in requests
    protests = browser.find_element("css selector", "#id_protests")
    protests.clear()
    protests.send_keys("0")
    follow(browser, "input[name=_save]")  # without its protocol and reason: refused
    assert "protocolo" in wait_for(browser, ".errorlist").text
    browser.find_element("css selector", "#id_correction_protocol").send_keys(dispute.protocol)
    browser.find_element("css selector", "#id_correction_reason").send_keys(
        "O credor confirmou o pagamento do título protestado."
    )
    follow(browser, "input[name=_save]")
    wait_for(browser, ".messagelist .success")
    browser.get(admin_url(live_server, f"scores/creditprofile/{profile.pk}/change/"))
    assert dispute.protocol in wait_for(browser, ".corrections").text
    screenshot(browser, "profile-corrections")
    browser.get(admin_url(live_server, f"scores/consumerrequest/{dispute.pk}/change/"))
    history = wait_for(browser, "#content-main").text
    assert "Perfil corrigido" in history
    assert f"Protestos (protocolo {dispute.protocol})" in history
    follow(browser, "#resolve-dispute")
    wait_for(browser, "#id_outcome_0").click()
    browser.find_element("css selector", "#id_resolution").send_keys(
        "O credor confirmou o pagamento; protesto retirado."
    )
    screenshot(browser, "consumer-request-resolve")
    follow(browser, "#resolve-form [type=submit]")
    assert "foi resolvida" in wait_for(browser, ".messagelist .success").text
    screenshot(browser, "consumer-request-resolved")

    dispute.refresh_from_db()
    assert dispute.state == ConsumerRequestState.RESOLVED
    status, body = api(live_server, plaintext, "/api/v1/scores", {"cpf": OTHER_EXAMPLE_CPF})
    assert (status, body["under_dispute"]) == (200, False)
