"""A key manager's day in the admin, in headless Chromium against the live test server:
issue a key and read it once, rotate it, revoke its successor; each key is
tried against the score API of the same server between the steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiKey, KeyLifecycleEvent
from accounts.staff import StaffRole
from conftest import STAFF_PASSWORD, browser_sign_in, follow, screenshot, totp_code, wait_for
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")


def score(base_url: str, plaintext: str) -> tuple[int, str | None]:
    """Ask the live server for the example CPF's score; (HTTP status, error code or None)."""
    response = requests.post(
        f"{base_url}/api/v1/scores",
        json={"cpf": EXAMPLE_CPF, "purpose": "credit_analysis"},
        headers={"Authorization": f"Api-Key {plaintext}"},
        timeout=10,
    )
    return response.status_code, (response.json().get("error") or {}).get("code")


def issued_key(browser) -> str:
    """The plaintext on the issued-once page."""
    return str(wait_for(browser, "#issued-api-key").get_attribute("value"))


def test_if_a_key_manager_issues_rotates_and_revokes_keys_then_each_key_works_exactly_as_long(
    browser, live_server, staff_user, organization, make_profile
):
    make_profile()
    user, device = staff_user("marina", role=StaffRole.KEY_MANAGERS, totp=True)
    admin = f"{live_server.url}/{settings.ADMIN_URL}"
    browser_sign_in(
        browser, live_server.url, user.username, STAFF_PASSWORD, totp_code(device.bin_key)
    )
    wait_for(browser, "#site-name")

    # Issue: the form's POST redirects to a page that shows the key once.
    browser.get(f"{admin}accounts/apikey/add/")
    wait_for(browser, "#id_name").send_keys("Core banking")
    browser.find_element(
        "css selector", f"#id_organization option[value='{organization.pk}']"
    ).click()
    browser.find_element(
        "css selector", "#id_default_purpose option[value='credit_analysis']"
    ).click()
    follow(browser, "input[name=_save]")
    first = issued_key(browser)
    screenshot(browser, "key-issued-once-pt-br")
    assert ApiKey.objects.count() == 1
    assert first.startswith(ApiKey.objects.get().prefix + ".")

    browser.refresh()  # a reload neither issues another key nor shows this one again
    assert wait_for(browser, "#key-already-shown")
    assert first not in browser.page_source
    browser.back()
    wait_for(browser, "#content")
    assert first not in browser.page_source
    assert ApiKey.objects.count() == 1
    assert score(live_server.url, first) == (200, None)

    # The list: one badge per key, readable scopes.
    browser.get(f"{admin}accounts/apikey/")
    row = wait_for(browser, "#result_list tbody tr")
    assert [
        row.find_element("css selector", f".field-{column}").text
        for column in ("key", "readable_scopes", "key_status", "requests_24h")
    ] == [f"{first.split('.')[0]}\nCore banking", "Consultar um CPF", "Ativa", "1"]

    # Rotate from the key's page, with a one-hour grace period chosen on the confirmation.
    old = ApiKey.objects.get()
    browser.get(f"{admin}accounts/apikey/{old.pk}/change/")
    follow(browser, wait_for(browser, "a.rotatelink"))
    grace = wait_for(browser, "#id_grace_hours")
    assert grace.get_attribute("value") == "24"  # the default
    grace.clear()
    grace.send_keys("1")
    screenshot(browser, "key-rotation-confirmation-pt-br")
    follow(browser, "#rotate-form [type=submit]")
    second = issued_key(browser)
    new = ApiKey.objects.get(replaces=old)
    assert second.startswith(new.prefix + ".")
    assert (score(live_server.url, first), score(live_server.url, second)) == (
        (200, None),
        (200, None),
    )
    browser.get(f"{admin}accounts/apikey/{old.pk}/change/")
    assert new.prefix in wait_for(browser, "#key-status-banner").text  # "replaced by …"
    browser.get(f"{admin}accounts/apikey/")  # every column on a 1366 px screen
    assert wait_for(browser, "#result_list .key-status-rotated_out")  # in its grace period
    screenshot(browser, "key-list-pt-br")
    assert browser.execute_script(
        "const table = document.querySelector('#result_list');"
        "return table.getBoundingClientRect().right <= window.innerWidth"
        " && table.parentElement.scrollWidth <= table.parentElement.clientWidth;"
    ), "the key list is wider than the screen"

    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        assert score(live_server.url, first) == (401, "api_key_expired")
        assert score(live_server.url, second) == (200, None)

    # Revoke the successor from its page, through the confirmation: refused at once.
    browser.get(f"{admin}accounts/apikey/{new.pk}/change/")
    follow(browser, wait_for(browser, "a.revokelink"))
    assert new.prefix in wait_for(browser, "#revoke-form").find_element("xpath", "..").text
    browser.find_element("css selector", "#id_reason").send_keys("Chave exposta num log")
    follow(browser, "#revoke-form [type=submit]")
    wait_for(browser, ".messagelist")
    assert score(live_server.url, second) == (401, "api_key_revoked")
    browser.get(f"{admin}accounts/apikey/{new.pk}/change/")
    assert "revogada" in wait_for(browser, "#key-status-banner").text
    assert not browser.find_elements("css selector", "input[name=_save], a.revokelink")

    assert list(
        KeyLifecycleEvent.objects.order_by("pk").values_list("action", "api_key_id", "actor_name")
    ) == [
        ("key_issued", old.prefix, "marina"),
        ("key_issued", new.prefix, "marina"),
        ("key_rotated", old.prefix, "marina"),
        ("key_revoked", new.prefix, "marina"),
    ]
