"""Staff sign-in a bank would accept: lockout, TOTP, sessions, the admin's language.

Browser tests drive the real admin in headless Chromium against the live test server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import StaffProfile
from accounts.staff import StaffRole
from conftest import (
    STAFF_PASSWORD as PASSWORD,
)
from conftest import admin_sign_in, browser_sign_in, follow, screenshot, totp_code, wait_for
from scoreportal.error_codes import ErrorCode
from scores.constants import Endpoint
from scores.models import Consultation
from scores.tests.fixtures import EXAMPLE_CPF


# ---------------------------------------------------------------------------------------
# Browser: sign in with TOTP, Portuguese by default, switch to English, sign out
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_if_staff_sign_in_with_password_and_totp_then_the_admin_is_portuguese_until_they_switch(
    browser, live_server, staff_user, make_profile
):
    user, device = staff_user(superuser=True, totp=True)
    Consultation.objects.create(
        occurred_at=datetime(2026, 11, 22, 18, 25, 7, tzinfo=UTC),  # 15:25:07 in São Paulo
        request_id="0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
        endpoint=Endpoint.SCORE,
        outcome=ErrorCode.NO_CREDIT_DATA,
        http_status=404,
        latency_ms=1234,
    )
    make_profile(EXAMPLE_CPF, on_time_payment_ratio=Decimal("0.9850"))

    browser_sign_in(browser, live_server.url, user.username, PASSWORD)  # no code
    assert "código" in wait_for(browser, ".errornote").text.lower()  # the code is required
    assert browser.find_element("css selector", "label[for=id_otp_token]").text == (
        "Código de autenticação:"
    )
    screenshot(browser, "sign-in-pt-br")
    browser_sign_in(browser, live_server.url, user.username, PASSWORD, totp_code(device.bin_key))

    assert wait_for(browser, "#site-name").text == "Administração do Score Portal"
    assert browser.find_element("css selector", "html").get_attribute("lang") == "pt-br"
    screenshot(browser, "admin-index-pt-br")
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}scores/consultation/")
    row = wait_for(browser, "#result_list tbody tr").text
    assert "22/11/2026 15:25:07" in row
    assert "Sem dados de crédito" in row
    screenshot(browser, "consultations-pt-br")
    follow(browser, "#result_list tbody tr th a")  # the latency is on the row's page
    assert "1.234" in wait_for(browser, "#content-main").text  # with the thousands separator
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}scores/creditprofile/")
    assert "0,9850" in wait_for(browser, "#result_list tbody tr").text  # the decimal comma

    language = browser.find_element("css selector", "#language-form select")
    language.find_element("css selector", "option[value=en]").click()
    follow(browser, "#language-form button")
    wait_for(browser, "#site-name")
    assert browser.find_element("css selector", "html").get_attribute("lang") == "en"
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}scores/consultation/")
    row = wait_for(browser, "#result_list tbody tr").text
    assert "Nov. 22, 2026, 15:25:07" in row
    follow(browser, "#result_list tbody tr th a")
    assert "1,234" in wait_for(browser, "#content-main").text
    assert StaffProfile.objects.get(user=user).language == "en"

    follow(browser, "#logout-form button")
    assert "Logged out" in wait_for(browser, "#content").text
    assert AccessLog.objects.get(username=user.username).logout_time is not None


# ---------------------------------------------------------------------------------------
# Browser: lockout after the configured failures; a key manager is made to enrol first
# ---------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_if_the_password_is_wrong_too_often_then_the_account_is_locked_and_it_is_recorded(
    browser, live_server, staff_user
):
    user, _device = staff_user("bruno", role=StaffRole.AUDITORS)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser_sign_in(browser, live_server.url, user.username, "wrong-password")
        wait_for(browser, ".errornote, #locked-out")
    browser_sign_in(browser, live_server.url, user.username, PASSWORD)  # the right one, now

    assert "bloqueado" in wait_for(browser, "#locked-out").text
    screenshot(browser, "locked-out-pt-br")
    assert AccessAttempt.objects.get(username=user.username).failures_since_start >= (
        settings.AXES_FAILURE_LIMIT
    )
    assert AccessFailureLog.objects.filter(username=user.username, locked_out=True).exists()
    assert not AccessLog.objects.filter(username=user.username).exists()


@pytest.mark.django_db(transaction=True)
def test_if_a_key_manager_has_no_authenticator_then_they_enrol_one_before_seeing_anything(
    browser, live_server, staff_user
):
    user, _device = staff_user("carla", role=StaffRole.KEY_MANAGERS)

    browser_sign_in(browser, live_server.url, user.username, PASSWORD)

    assert wait_for(browser, "#totp-enrol-form")
    assert browser.current_url.endswith("/staff/totp/enrol/")
    assert "#nav-sidebar" not in browser.page_source
    screenshot(browser, "totp-enrolment-pt-br")
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}accounts/apikey/")
    assert browser.current_url.endswith("/staff/totp/enrol/")  # nothing else until enrolled
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wait_for(browser, "#id_otp_token").send_keys(totp_code(device.bin_key))
    follow(browser, "#totp-enrol-form [type=submit]")

    assert "cadastrado" in wait_for(browser, ".messagelist").text
    browser.get(f"{live_server.url}/{settings.ADMIN_URL}accounts/apikey/")
    assert wait_for(browser, "#changelist")
    assert TOTPDevice.objects.get(user=user).confirmed


# ---------------------------------------------------------------------------------------
# Without a browser: the policy's edges
# ---------------------------------------------------------------------------------------
def test_if_a_user_with_an_authenticator_gives_a_wrong_code_then_sign_in_fails_and_counts(
    client, staff_user
):
    user, device = staff_user(totp=True)
    wrong = f"{(int(totp_code(device.bin_key)) + 1) % 1_000_000:06d}"

    response = admin_sign_in(client, user.username, PASSWORD, wrong)

    assert response.status_code == 200
    assert (
        not response.wsgi_request.user.is_authenticated
        or not response.context["user"].is_verified()
    )
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 1


def test_if_an_auditor_has_no_authenticator_then_the_password_is_enough(client, staff_user):
    user, _device = staff_user("dora", role=StaffRole.AUDITORS)

    response = admin_sign_in(client, user.username, PASSWORD)

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_if_a_superuser_signs_in_with_a_password_only_then_the_admin_sends_them_to_enrol(
    client, staff_user
):
    user, _device = staff_user("edu", superuser=True)

    admin_sign_in(client, user.username, PASSWORD)
    response = client.get("/admin/scores/consultation/")

    assert (response.status_code, response["Location"]) == (302, "/admin/staff/totp/enrol/")


def test_if_someone_who_has_an_authenticator_opens_the_enrolment_then_it_changes_nothing(
    admin_client, admin_user
):
    before = list(TOTPDevice.objects.filter(user=admin_user).values_list("pk", flat=True))

    response = admin_client.get("/admin/staff/totp/enrol/")

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert list(TOTPDevice.objects.filter(user=admin_user).values_list("pk", flat=True)) == before


def test_if_signed_in_then_the_session_ends_after_a_working_day_and_with_the_browser(
    client, staff_user
):
    user, _device = staff_user("fabio", role=StaffRole.AUDITORS)

    admin_sign_in(client, user.username, PASSWORD)

    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE <= 9 * 3600
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"]  # a browser-session cookie
    assert not cookie["max-age"]


def test_if_the_api_is_asked_then_it_answers_in_english_whatever_the_admin_speaks(client, db):
    response = client.post(
        "/api/v1/scores", "{}", content_type="application/json", HTTP_ACCEPT_LANGUAGE="pt-BR"
    )

    assert response.json()["error"]["message"] == (
        "No API key was sent. Send it as 'Authorization: Api-Key <key>' or 'X-Api-Key: <key>'."
    )
    assert response["Content-Language"] == "en"


def test_if_the_admin_url_is_configured_then_the_admin_lives_there_only(settings, client, db):
    settings.ADMIN_URL = "equipe-7f3a/"
    import importlib

    from django.urls import clear_url_caches

    import scoreportal.urls

    importlib.reload(scoreportal.urls)
    clear_url_caches()
    try:
        assert client.get("/equipe-7f3a/login/").status_code == 200
        assert client.get("/admin/login/")["Content-Type"] == "application/json"  # a 404
    finally:
        settings.ADMIN_URL = "admin/"
        importlib.reload(scoreportal.urls)
        clear_url_caches()
