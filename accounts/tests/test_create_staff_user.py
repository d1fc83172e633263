"""The first staff user on Lambda: no password in any output, a one-time link instead.

The link's code (whose account, and Django's password-reset token) follows its '#', which
browsers never send: no address that reaches a server, a proxy or an access log holds it.
The landing page's script posts it; without JavaScript the person pastes the link.
"""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from conftest import admin_sign_in, follow, wait_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Long-and-Unusual-passphrase-42"


def create(*args):
    out = StringIO()
    call_command("create_staff_user", *args, stdout=out)
    return out.getvalue()


def printed_link(output):
    match = re.search(r"at: (http://127\.0\.0\.1:8000/admin/password-set/\S+)", output)
    assert match, output
    return match[1]


def opened(client, link):
    """Open `link` as a browser with JavaScript does: the address without the fragment,
    then the page's script posts the fragment. The answer, redirects followed."""
    parts = urlsplit(link)
    page = client.get(parts.path)
    assert page.status_code == 200
    return client.post(parts.path, {"code": parts.fragment}, follow=True)


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # what make run's .env says


def test_if_a_staff_user_is_created_then_the_printed_link_sets_the_password_once(client):
    output = create("ops", "--email", "ops@bank.example", "--superuser")
    user = get_user_model().objects.get(username="ops")
    assert user.is_staff
    assert user.is_superuser
    assert not user.has_usable_password()

    form_page = opened(client, printed_link(output))
    assert form_page.context["validlink"] is True
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    signed_in = admin_sign_in(client, "ops", NEW_PASSWORD)
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    client.logout()
    reused = opened(client, printed_link(output))
    assert reused.redirect_chain == []
    assert "new_password1" not in reused.content.decode()
    assert 'class="errornote"' in reused.content.decode()


def test_if_a_link_is_printed_then_its_code_is_only_after_the_fragment_sign():
    link = printed_link(create("ops", "--email", "ops@bank.example"))

    parts = urlsplit(link)
    _uidb64, token = parts.fragment.split("/")
    assert parts.path == "/admin/password-set/"
    assert not parts.query
    assert len(token) > 30
    assert token not in parts.path


def test_if_the_link_is_pasted_whole_then_it_works_without_javascript(client):
    link = printed_link(create("ops", "--email", "ops@bank.example"))

    page = client.post(urlsplit(link).path, {"code": f"  {link} "}, follow=True)

    assert page.context["validlink"] is True
    # Django's own form, at an address without the token.
    assert page.redirect_chain[-1][0].endswith("/set-password/")


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("", id="empty"),
        pytest.param("MQ", id="no-token"),
        pytest.param("MQ/abc-0123456789abcdef0123456789abcdef", id="wrong-token"),
        pytest.param("%%%/x", id="not-base64"),
        pytest.param("x" * 600, id="too-long"),
    ],
)
def test_if_the_code_is_wrong_then_the_page_says_so_and_does_not_repeat_it(client, code):
    create("ops", "--email", "ops@bank.example")

    page = client.post("/admin/password-set/", {"code": code})

    assert page.status_code == 200
    body = page.content.decode()
    assert "new_password1" not in body
    assert 'class="errornote"' in body
    if code:
        assert code not in body


def test_if_a_token_is_put_in_the_path_as_links_used_to_then_nothing_answers(client):
    from django.contrib.auth.tokens import default_token_generator

    create("ops", "--email", "ops@bank.example")
    user = get_user_model().objects.get(username="ops")
    token = default_token_generator.make_token(user)

    assert client.get(f"/admin/password-set/MQ/{token}/").status_code == 404
    # The password form opens only with the code already checked in this session.
    form = client.get(f"/admin/password-set/MQ/{token}/set-password/")
    assert form.status_code == 404
    assert client.get("/admin/password-set/MQ/set-password/").context["validlink"] is False


def test_if_the_user_exists_then_nothing_changes(admin_user):
    with pytest.raises(CommandError, match="already exists"):
        create(admin_user.username, "--email", "x@bank.example")


def test_if_the_group_is_unknown_then_no_user_is_created():
    with pytest.raises(CommandError, match="No group"):
        create("auditor", "--email", "a@bank.example", "--group", "Nope")

    assert not get_user_model().objects.filter(username="auditor").exists()


def test_if_a_new_staff_member_opens_the_link_in_a_browser_then_its_script_sends_the_code(
    browser, live_server, settings
):
    """The page's static script (the CSP allows no inline script) posts the code, takes
    it out of the address bar, and Django's form sets the password."""
    settings.PUBLIC_BASE_URL = live_server.url
    output = create("ops", "--email", "ops@bank.example")
    link = output.rpartition("at: ")[2].strip()

    browser.get(link)
    wait_for(browser, "#id_new_password1").send_keys(NEW_PASSWORD)
    assert "#" not in browser.current_url
    assert browser.current_url.endswith("/set-password/")
    browser.find_element("css selector", "#id_new_password2").send_keys(NEW_PASSWORD)
    follow(browser, "input[type=submit]")

    assert get_user_model().objects.get(username="ops").check_password(NEW_PASSWORD)
