"""The key managers' portal: organizations, keys issued once, rotated and revoked with
confirmation, their status at a glance, and the lifecycle record."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.utils import quote
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.constants import KeyStatus, LifecycleAction
from accounts.exceptions import ApiKeyExpired, ApiKeyRevoked, OrganizationInactive
from accounts.models import ApiKey, KeyHandoff, KeyLifecycleEvent, Organization
from accounts.services import api_key_authenticate, api_key_revoke, api_key_rotate
from accounts.staff import StaffRole
from scores.constants import Endpoint
from scores.models import Consultation

ADD_URL = reverse("admin:accounts_apikey_add")
CHANGELIST_URL = reverse("admin:accounts_apikey_changelist")


def key_form(organization=None, **overrides):
    data = {
        "name": "core banking",
        "scopes": ["scores:read", "scores:batch"],
        "expiry_date_0": "",
        "expiry_date_1": "",
        "rate_limit_per_minute": "120",
        "daily_quota": "5000",
        "allowed_networks": "",
        "default_purpose": "credit_analysis",
        **overrides,
    }
    if organization is not None:
        data["organization"] = organization.pk
    return data


def issue_in_admin(client, organization, **overrides):
    """POST the add form; follow the redirect once, as a browser does."""
    response = client.post(ADD_URL, key_form(organization, **overrides))
    if response.status_code != 302:
        return response, None
    return client.get(response["Location"]), response


def shown_key(response):
    match = re.search(r'id="issued-api-key"[^>]*value="([^"]+)"', response.content.decode())
    assert match, "the issued key is not on the page"
    return match[1]


def organization_form(organization, **overrides):
    return {
        "name": organization.name,
        "slug": organization.slug,
        "is_active": "on" if organization.is_active else "",
        "contact_name": "",
        "contact_email": "",
        # The read-only inline of the organization's keys still sends its management form.
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        **overrides,
    }


# ---------------------------------------------------------------------------------------
# Issue once: POST, redirect, GET shows the key; a reload shows nothing and issues nothing
# ---------------------------------------------------------------------------------------
def test_if_staff_issue_a_key_then_it_is_shown_once_on_the_page_the_post_redirects_to(
    admin_client, admin_user, organization
):
    page, posted = issue_in_admin(admin_client, organization)

    assert posted.status_code == 302
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    plaintext = shown_key(page)
    key = api_key_authenticate(plaintext)
    assert key.organization == organization
    assert key.scopes == ["scores:read", "scores:batch"]
    assert (key.rate_limit_per_minute, key.daily_quota) == (120, 5000)
    assert key.created_by == admin_user


def test_if_the_issued_page_is_reloaded_then_no_second_key_and_no_plaintext(
    admin_client, organization
):
    page, posted = issue_in_admin(admin_client, organization)
    plaintext = shown_key(page)

    reloaded = admin_client.get(posted["Location"])

    assert reloaded.status_code == 200
    assert plaintext not in reloaded.content.decode()
    assert 'id="key-already-shown"' in reloaded.content.decode()
    assert ApiKey.objects.count() == 1
    assert not KeyHandoff.objects.exists()


def test_if_another_staff_member_opens_the_issued_page_then_they_see_no_key(
    admin_client, client, organization, django_user_model
):
    from conftest import sign_in

    posted = admin_client.post(ADD_URL, key_form(organization))
    other = django_user_model.objects.create_superuser("other", "o@x.example", "pw")
    sign_in(client, other)
    client.cookies["key_handoff"] = admin_client.cookies["key_handoff"]  # even with the pad

    response = client.get(posted["Location"])

    assert 'id="issued-api-key"' not in response.content.decode()


def test_if_a_key_is_issued_then_no_message_session_cookie_or_table_keeps_it(
    admin_client, organization
):
    page, posted = issue_in_admin(admin_client, organization)
    plaintext = shown_key(page)

    cookies = [morsel.value for morsel in [*posted.cookies.values(), *page.cookies.values()]]
    assert all(plaintext not in value for value in cookies)
    for session in Session.objects.all():
        assert plaintext not in repr(session.get_decoded())
    with connection.cursor() as cursor:
        cursor.execute("SELECT masked_key FROM accounts_keyhandoff")
        assert cursor.fetchall() == []  # the hand-off is gone once shown
    followup = admin_client.get(CHANGELIST_URL)
    assert plaintext not in followup.content.decode()


def test_if_the_add_form_is_invalid_then_no_key_is_issued(admin_client, organization):
    page, posted = issue_in_admin(admin_client, organization, scopes=["scores:write"])

    assert posted is None
    assert page.status_code == 200
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("day", "time"),
    [pytest.param("01/01/2020", "00:00:00", id="2020"), pytest.param("today", "now", id="now")],
)
def test_if_staff_issue_a_key_that_has_expired_already_then_the_form_says_so(
    admin_client, organization, day, time
):
    now = timezone.localtime()
    if day == "today":
        day, time = now.strftime("%d/%m/%Y"), now.strftime("%H:%M:%S")

    page, posted = issue_in_admin(admin_client, organization, expiry_date_0=day, expiry_date_1=time)

    assert posted is None
    assert page.context["adminform"].form.errors["expiry_date"] == [
        "Escolha um momento no futuro: para encerrar uma chave agora, revogue-a."
    ]
    assert not ApiKey.objects.exists()


def test_if_staff_move_a_key_s_expiry_into_the_past_then_the_form_says_so(admin_client, api_key):
    key, _plaintext = api_key

    response = admin_client.post(
        reverse("admin:accounts_apikey_change", args=[quote(key.pk)]),
        key_form(expiry_date_0="01/01/2020", expiry_date_1="00:00:00"),
    )

    assert response.status_code == 200
    assert "Escolha um momento no futuro" in response.content.decode()
    key.refresh_from_db()
    assert (key.expiry_date, key.version) == (None, 1)


def test_if_staff_rename_a_key_that_has_expired_then_its_expiry_stays(admin_client, issue_key):
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=10)):
        key, _plaintext = issue_key(expiry_date=now - timedelta(days=1))
    expiry = timezone.localtime(key.expiry_date)

    response = admin_client.post(
        reverse("admin:accounts_apikey_change", args=[quote(key.pk)]),
        key_form(
            name="renamed",
            expiry_date_0=expiry.strftime("%d/%m/%Y"),
            expiry_date_1=expiry.strftime("%H:%M:%S"),
        ),
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "renamed"
    assert key.expiry_date == expiry  # as stored, though the form shows whole seconds


def test_if_staff_rotate_a_key_that_has_expired_then_it_is_refused_and_the_page_says_why(
    admin_client, issue_key
):
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=10)):
        key, _plaintext = issue_key(expiry_date=now - timedelta(days=1))

    response = admin_client.post(
        reverse("admin:accounts_apikey_rotate", args=[quote(key.pk)]),
        {"grace_hours": "24"},
        follow=True,
    )

    assert ApiKey.objects.count() == 1
    assert "Esta chave expirou" in response.content.decode()


@pytest.mark.parametrize(
    "networks",
    [
        pytest.param("10.0.0.1/8", id="host-bits-set"),
        pytest.param("not-a-network", id="garbage"),
        pytest.param("192.0.2.0/24\n192.0.2.0/24", id="repeated"),
        pytest.param("2001:db8::/129", id="bad-ipv6-prefix"),
    ],
)
def test_if_allowed_networks_are_not_cidrs_then_no_key_is_issued(
    admin_client, organization, networks
):
    page, posted = issue_in_admin(admin_client, organization, allowed_networks=networks)

    assert posted is None
    assert "allowed_networks" in page.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_if_an_address_is_given_with_a_prefix_then_the_network_it_means_is_offered(
    admin_client, organization
):
    page, posted = issue_in_admin(admin_client, organization, allowed_networks="192.168.1.5/24")

    assert posted is None
    assert (
        "192.168.1.5/24 tem bits de host: a rede com esse prefixo é 192.168.1.0/24. Escreva "
        "192.168.1.0/24 para a rede, ou 192.168.1.5/32 para esse único endereço."
    ) in page.content.decode()


def test_if_a_superuser_lists_staff_and_roles_then_roles_are_named_in_portuguese(
    admin_client, staff_member
):
    staff_member("bia", role=StaffRole.AUDITORS)

    users = admin_client.get(reverse("admin:auth_user_changelist")).content.decode()
    groups = admin_client.get(reverse("admin:auth_group_changelist")).content.decode()

    assert "Auditores" in users
    assert ">Auditors<" not in users
    assert "Operadores de dados de crédito" in groups
    assert ">Credit data operators<" not in groups


def test_if_allowed_networks_are_given_one_per_line_then_the_key_keeps_them(
    admin_client, organization
):
    page, _ = issue_in_admin(
        admin_client, organization, allowed_networks="192.0.2.0/24\r\n2001:db8::/32\r\n"
    )

    key = api_key_authenticate(shown_key(page))
    assert key.allowed_networks == ["192.0.2.0/24", "2001:db8::/32"]


# ---------------------------------------------------------------------------------------
# Revoke, with confirmation; a revoked key's page is read-only with a banner
# ---------------------------------------------------------------------------------------
def test_if_staff_revoke_keys_in_bulk_then_a_confirmation_comes_first(
    admin_client, admin_user, issue_key
):
    first, first_plaintext = issue_key(name="first")
    second, _ = issue_key(name="second")

    asked = admin_client.post(
        CHANGELIST_URL, {"action": "revoke_keys", "_selected_action": [first.pk]}
    )
    first.refresh_from_db()
    assert asked.status_code == 200
    assert 'id="revoke-form"' in asked.content.decode()
    assert not first.revoked  # nothing happened yet

    done = admin_client.post(
        CHANGELIST_URL,
        {
            "action": "revoke_keys",
            "_selected_action": [first.pk],
            "confirmed": "yes",
            "reason": "chamado 4711",
        },
        follow=True,
    )

    assert "1 chave de API revogada." in done.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.revoked, first.revoked_by, second.revoked) == (True, admin_user, False)
    assert KeyLifecycleEvent.objects.get(action="key_revoked").reason == "chamado 4711"
    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(first_plaintext)


def test_if_staff_confirm_a_revocation_without_a_reason_then_it_is_asked_for(admin_client, api_key):
    key, _plaintext = api_key
    url = reverse("admin:accounts_apikey_revoke", args=[quote(key.pk)])

    response = admin_client.post(url, {"confirmed": "yes", "reason": "  "})

    assert response.status_code == 200
    assert "Este campo é obrigatório" in response.content.decode()
    key.refresh_from_db()
    assert not key.revoked


def test_if_staff_revoke_a_key_from_its_page_then_it_stops_at_once(
    admin_client, api_key, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    api_key_authenticate(plaintext)  # a key this process holds
    url = reverse("admin:accounts_apikey_revoke", args=[quote(key.pk)])

    assert 'id="revoke-form"' in admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"confirmed": "yes", "reason": "vazamento"})

    assert response["Location"] == reverse("admin:accounts_apikey_change", args=[quote(key.pk)])
    with pytest.raises(ApiKeyRevoked):
        api_key_authenticate(plaintext)


def test_if_a_key_is_revoked_then_its_page_is_read_only_with_a_status_banner(admin_client, api_key):
    key = api_key_revoke(api_key=api_key[0])

    response = admin_client.get(reverse("admin:accounts_apikey_change", args=[quote(key.pk)]))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="key-status-banner"' in content
    assert 'name="name"' not in content
    assert 'name="_save"' not in content
    assert "rotatelink" not in content
    assert (
        admin_client.post(
            reverse("admin:accounts_apikey_change", args=[quote(key.pk)]), key_form(name="x")
        ).status_code
        == 403
    )


# ---------------------------------------------------------------------------------------
# Rotate: a new key with the same settings, shown once; the old one works through the grace
# ---------------------------------------------------------------------------------------
def test_if_staff_rotate_a_key_then_both_work_during_the_grace_and_the_old_then_expires(
    admin_client, issue_key, django_capture_on_commit_callbacks
):
    old, old_plaintext = issue_key(
        allowed_networks=["192.0.2.0/24"], daily_quota=777, default_purpose="collection"
    )
    url = reverse("admin:accounts_apikey_rotate", args=[quote(old.pk)])

    assert 'id="rotate-form"' in admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        posted = admin_client.post(url, {"grace_hours": "24"})
    new_plaintext = shown_key(admin_client.get(posted["Location"]))

    new = api_key_authenticate(new_plaintext)
    assert api_key_authenticate(old_plaintext).prefix == old.prefix  # still works
    assert (new.replaces_id, new.allowed_networks, new.daily_quota, new.default_purpose) == (
        old.pk,
        ["192.0.2.0/24"],
        777,
        "collection",
    )
    # Replaced at once (the list's "Substituída" finds it), working through its grace.
    assert ApiKey.objects.get(pk=old.pk).status is KeyStatus.ROTATED_OUT
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        with pytest.raises(ApiKeyExpired):
            api_key_authenticate(old_plaintext)
        assert api_key_authenticate(new_plaintext).prefix == new.prefix
        assert ApiKey.objects.get(pk=old.pk).status is KeyStatus.ROTATED_OUT
    pages = [
        admin_client.get(reverse("admin:accounts_apikey_change", args=[quote(pk)])).content.decode()
        for pk in (old.pk, new.pk)
    ]
    assert new.prefix in pages[0]  # "replaced by"
    assert old.prefix in pages[1]  # "replaces"


def test_if_a_key_was_rotated_already_then_it_cannot_be_rotated_again(admin_client, api_key):
    api_key_rotate(api_key=api_key[0])

    response = admin_client.post(
        reverse("admin:accounts_apikey_rotate", args=[quote(api_key[0].pk)]),
        {"grace_hours": "24"},
        follow=True,
    )

    assert ApiKey.objects.count() == 2
    assert "rotate its replacement" in response.content.decode() or "substituta" in (
        response.content.decode()
    )


# ---------------------------------------------------------------------------------------
# Status at a glance
# ---------------------------------------------------------------------------------------
def test_if_keys_are_listed_then_each_shows_one_status_badge_and_its_recent_requests(
    admin_client, issue_key
):
    active, _ = issue_key(name="active")
    issue_key(name="expiring", expiry_date=timezone.now() + timedelta(days=3))
    api_key_revoke(api_key=issue_key(name="revoked")[0])
    for _ in range(3):
        Consultation.objects.create(
            request_id="0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
            endpoint=Endpoint.SCORE,
            organization=active.organization,
            api_key=active,
            api_key_prefix=active.prefix,
            outcome="scored",
            http_status=200,
            latency_ms=5,
        )

    with CaptureQueriesContext(connection) as three_keys:
        response = admin_client.get(CHANGELIST_URL)
    for number in range(5):
        issue_key(name=f"more {number}")
    with CaptureQueriesContext(connection) as eight_keys:
        admin_client.get(CHANGELIST_URL)

    # The recent requests of a page's keys are counted by one grouped query, not one a row.
    assert len(eight_keys) == len(three_keys)
    rows = {key.name: key for key in response.context["cl"].result_list}
    content = response.content.decode()
    assert 'key-status-active">Ativa' in content
    assert 'key-status-expiring">' in content
    assert 'key-status-revoked">' in content
    assert "Consultar um CPF, Consultar CPFs em lote" not in content  # readable scopes
    assert "Consultar um CPF" in content
    assert rows["active"]._requests_last_24h == 3
    assert rows["expiring"]._requests_last_24h == 0
    assert '["scores:read"]' not in content


def issued_before(issue_key, now, **settings):
    """The prefix of a key issued a day before `now` (its expiry was then in the future)."""
    with time_machine.travel(now - timedelta(days=1)):
        return issue_key(**settings)[0].prefix


@pytest.mark.parametrize("status", list(KeyStatus), ids=lambda status: status.value)
def test_if_the_list_is_filtered_by_status_then_only_keys_of_that_status_show(
    admin_client, issue_key, status
):
    now = timezone.now()
    old = issue_key(name="old")[0]
    replacement, _ = api_key_rotate(api_key=old, grace=timedelta(0))
    keys = {
        KeyStatus.ACTIVE: {issue_key(name="active")[0].prefix, replacement.prefix},
        KeyStatus.EXPIRING: {issue_key(expiry_date=now + timedelta(days=3))[0].prefix},
        KeyStatus.EXPIRED: {issued_before(issue_key, now, expiry_date=now - timedelta(hours=1))},
        KeyStatus.REVOKED: {api_key_revoke(api_key=issue_key(name="revoked")[0]).prefix},
        KeyStatus.ROTATED_OUT: {old.prefix},
    }

    response = admin_client.get(CHANGELIST_URL, {"status": status.value})

    shown = {key.prefix for key in response.context["cl"].result_list}
    assert shown == keys[status]
    assert {key.status for key in response.context["cl"].result_list} == {status}


# ---------------------------------------------------------------------------------------
# Organizations
# ---------------------------------------------------------------------------------------
def test_if_staff_untick_active_without_confirming_then_the_organization_stays_active(
    admin_client, api_key, organization
):
    response = admin_client.post(
        reverse("admin:accounts_organization_change", args=[organization.pk]),
        organization_form(organization, is_active=""),
    )

    assert response.status_code == 200
    assert "recusa a 1 chave utilizável dela imediatamente" in response.content.decode()
    organization.refresh_from_db()
    assert organization.is_active


def test_if_staff_deactivate_an_organization_then_its_keys_are_refused_and_it_is_recorded(
    admin_client, admin_user, api_key, organization, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    api_key_authenticate(plaintext)  # now a recent key

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_organization_change", args=[organization.pk]),
            organization_form(organization, is_active="", confirm_deactivation="on"),
        )

    assert response.status_code == 302
    organization.refresh_from_db()
    key.refresh_from_db()
    assert (organization.is_active, key.version) == (False, 2)
    with pytest.raises(OrganizationInactive) as refused:
        api_key_authenticate(plaintext)
    assert refused.value.message == "The API key's organization is not active."
    event = KeyLifecycleEvent.objects.get(action=LifecycleAction.ORGANIZATION_DEACTIVATED)
    assert (event.actor, event.before, event.after) == (
        admin_user,
        {"is_active": True},
        {"is_active": False},
    )


def test_if_staff_add_an_organization_then_it_is_created_active_and_recorded(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_organization_add"),
        {**organization_form(Organization(name="Banco Novo", slug="banco-novo", is_active=True))},
    )

    assert response.status_code == 302
    organization = Organization.objects.get(slug="banco-novo")
    assert organization.is_active
    assert KeyLifecycleEvent.objects.get().action == LifecycleAction.ORGANIZATION_CREATED


def test_if_an_organization_page_is_opened_then_it_lists_its_keys_and_recent_requests(
    admin_client, issue_key, organization
):
    active, _ = issue_key(name="active")
    api_key_revoke(api_key=issue_key(name="gone")[0])
    Consultation.objects.create(
        request_id="0f6f2a3c-5a07-4b8e-9c1e-2b0f8f6f3a11",
        endpoint=Endpoint.SCORE,
        organization=organization,
        api_key=active,
        api_key_prefix=active.prefix,
        outcome="scored",
        http_status=200,
        latency_ms=5,
    )

    response = admin_client.get(
        reverse("admin:accounts_organization_change", args=[organization.pk])
    )

    content = response.content.decode()
    assert active.prefix in content
    assert 'key-status-revoked">' in content
    assert response.context["adminform"].form.instance == organization
    assert "requests_last_24h" in content
    assert re.search(r"requests_last_24h.*?<div class=\"readonly\">1</div>", content, re.S)


def test_if_staff_try_to_delete_a_key_or_organization_then_it_is_not_offered(admin_client, api_key):
    key = api_key[0]

    key_delete = admin_client.get(reverse("admin:accounts_apikey_delete", args=[key.pk]))
    org_delete = admin_client.get(
        reverse("admin:accounts_organization_delete", args=[key.organization.pk])
    )

    assert key_delete.status_code == 403
    assert org_delete.status_code == 403


def test_if_the_library_model_exists_then_it_is_not_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert "rest_framework_api_key" not in response.content.decode()


# ---------------------------------------------------------------------------------------
# Settings changes reach this process at once and are recorded
# ---------------------------------------------------------------------------------------
def test_if_staff_change_a_key_then_it_applies_on_commit_and_the_record_shows_before_and_after(
    admin_client, admin_user, api_key, django_capture_on_commit_callbacks
):
    key, plaintext = api_key
    assert api_key_authenticate(plaintext).scopes == ["scores:read"]  # now a recent key

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_apikey_change", args=[quote(key.pk)]),
            key_form(name="renamed", scopes=["scores:batch"], daily_quota="10"),
        )

    assert response.status_code == 302
    assert api_key_authenticate(plaintext).scopes == ["scores:batch"]
    key.refresh_from_db()
    assert (key.name, key.daily_quota, key.version) == ("renamed", 10, 2)
    event = KeyLifecycleEvent.objects.get(action=LifecycleAction.KEY_CHANGED)
    assert event.actor == admin_user
    assert event.before["scopes"] == ["scores:read"]
    assert event.after["scopes"] == ["scores:batch"]
    assert event.after["daily_quota"] == 10
    assert "hashed_key" not in event.after


def test_if_the_lifecycle_record_is_opened_then_it_is_read_only(admin_client, api_key):
    event = KeyLifecycleEvent.objects.get(action=LifecycleAction.KEY_ISSUED)

    listed = admin_client.get(reverse("admin:accounts_keylifecycleevent_changelist"))
    detail = admin_client.get(reverse("admin:accounts_keylifecycleevent_change", args=[event.pk]))

    assert listed.status_code == detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:accounts_keylifecycleevent_add")).status_code == 403
