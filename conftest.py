"""What every app's tests stand on: the database's two roles, the local DynamoDB and S3
endpoints, staff sign-in, servers and the browser, the log.

Tests run against real stores: the Postgres and the moto DynamoDB server that `make test`
(devstack) provides. Each test that touches the cache gets a table of its own. Each app's
shared fixtures live in its tests package (`<app>/tests/fixtures.py`), registered below.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.test import Client

from accounts import rate_limits
from accounts.selectors import recent_keys
from accounts.staff import totp_required
from scoreportal import aws_clients
from scoreportal.logging import JsonFormatter, WithoutRequestTarget
from scores.cache import score_cache

# Keys and staff of each role (accounts), profiles and audit rows (scores): fixtures the
# tests of several apps use, kept with the app they belong to.
pytest_plugins = ["accounts.tests.fixtures", "scores.tests.fixtures"]


# ---------------------------------------------------------------------------------------
# The database's two roles (scoreportal/database_roles.py; `make test` makes them). The
# code under test connects as the serving role, as the request path does on AWS; the
# schema's owner builds the test database and does what only it may, as the ops function
# does (migrations, prune_audit), and what the suite needs besides (the flush, a test's DDL).
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabaseRoles:
    """The suite's credentials for each role, and the switch of its own connection."""

    owner: dict[str, Any]
    serving: dict[str, Any]

    def connect_default_as(self, credentials: dict[str, Any]) -> None:
        """From its next query, the default connection logs in with these credentials."""
        from django.db import DEFAULT_DB_ALIAS, connections

        connection = connections[DEFAULT_DB_ALIAS]
        connection.close()
        connection.settings_dict.update(credentials)


@pytest.fixture(scope="session")
def database_roles() -> DatabaseRoles:
    from django.conf import settings

    if "owner" not in settings.DATABASES:
        raise pytest.UsageError(
            "DATABASE_OWNER_URL is not set: run the suite with `make test`, which makes the "
            "database's roles."
        )
    logins = {
        alias: {key: settings.DATABASES[alias][key] for key in ("USER", "PASSWORD")}
        for alias in ("owner", "default")
    }
    return DatabaseRoles(owner=logins["owner"], serving=logins["default"])


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, database_roles: DatabaseRoles
) -> None:
    """pytest-django creates and migrates the test database as the schema's owner."""
    database_roles.connect_default_as(database_roles.owner)


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: Any, database_roles: DatabaseRoles
) -> Iterator[None]:
    """Then the owner grants the serving role its rights, as the deploy does after each
    migrate, and the suite connects as the serving role."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command(
            "grant_serving_role", "--role", database_roles.serving["USER"], stdout=io.StringIO()
        )
    database_roles.connect_default_as(database_roles.serving)
    yield
    # Without --reuse-db, pytest-django drops the test database next: its owner may.
    database_roles.connect_default_as(database_roles.owner)


@pytest.fixture
def connected_as_owner(transactional_db: None, database_roles: DatabaseRoles) -> Iterator[None]:
    """The test's own connection as the schema's owner, as the ops function connects
    (migrations, prune_audit, what the append-only triggers refuse even to the owner).
    Transactional: what the test commits is there for both roles."""
    database_roles.connect_default_as(database_roles.owner)
    yield
    database_roles.connect_default_as(database_roles.serving)


def owner_sql(*statements: str) -> None:
    """Run statements as the schema's owner on a connection of their own, committed
    together: what only the owner may do (a table renamed away, the flush below)."""
    from django.db import connections

    owner = connections["owner"]
    raw = owner.get_new_connection(owner.get_connection_params())
    try:
        with raw, raw.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        raw.close()


@pytest.fixture(scope="session", autouse=True)
def _flush_as_the_owner() -> Iterator[None]:
    """Transactional tests end with Django's flush, a TRUNCATE of every table: the serving
    role may truncate none, and the append-only tables' triggers refuse it to anyone. So
    the owner flushes, with those triggers off inside its own transaction (ALTER TABLE ...
    DISABLE TRIGGER, which only the owner may do), where nobody else sees them off."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    from scoreportal.database_roles import quoted
    from scoreportal.models import append_only_tables

    def triggers(switch: str) -> str:
        # The append-only tables and their partitions (each has its own TRUNCATE trigger).
        tables = ", ".join(f"'{quoted(table)}'" for table in append_only_tables())
        return (
            "DO $$ DECLARE t regclass; BEGIN FOR t IN SELECT c.oid FROM pg_class c"  # noqa: S608
            f" WHERE c.oid = ANY(ARRAY[{tables}]::regclass[]) OR (c.relispartition AND"
            f" pg_partition_root(c.oid) = ANY(ARRAY[{tables}]::regclass[])) LOOP"
            f" EXECUTE format('ALTER TABLE %s {switch} TRIGGER USER', t); END LOOP; END $$"
        )

    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        owner_sql(triggers("DISABLE"), *sql_list, triggers("ENABLE"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    """Files a test uploads (credit-profile imports) land in its own directory, never in
    the checkout."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _language_left_as_found() -> Iterator[None]:
    """A request through the test client leaves its language active in this thread (the
    language middleware activates it, as Django's does): undo it, so what a test prints
    does not depend on which test ran before it."""
    from django.utils.translation import trans_real

    active = trans_real._active  # type: ignore[attr-defined]
    saved = getattr(active, "value", None)
    yield
    if saved is None:
        if hasattr(active, "value"):
            del active.value
    else:
        active.value = saved


@pytest.fixture(autouse=True)
def _fresh_cache_cool_down() -> None:
    """No test inherits a cool-down (score cache, counters), per-process counts or leases."""
    score_cache.cool_down.reset()
    rate_limits.cool_down.reset()
    rate_limits.process_counters.clear()
    rate_limits.leases.clear()


@pytest.fixture
def dynamodb(settings: Any) -> Any:
    """boto3's client for the local DynamoDB endpoint: an independent view of the table."""
    return boto3.client(
        "dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.DYNAMODB_ENDPOINT_URL
    )


@pytest.fixture
def score_table(settings: Any, dynamodb: Any) -> Iterator[str]:
    """A fresh, empty DynamoDB score cache table on the local endpoint."""
    table = settings.SCORE_CACHE_TABLE = f"scores-test-{uuid.uuid4().hex[:12]}"
    score_cache.ensure_table()
    yield table
    dynamodb.delete_table(TableName=table)  # the endpoint of setup, whatever the test did


@pytest.fixture
def operations_bucket(settings: Any) -> Iterator[str]:
    """A fresh, empty operations bucket (OPERATIONS_BUCKET) on the local S3 endpoint."""
    bucket = settings.OPERATIONS_BUCKET = f"operations-test-{uuid.uuid4().hex[:12]}"
    s3 = aws_clients.s3()
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.AWS_REGION}
    )
    yield bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def dynamodb_calls(settings: Any) -> Iterator[list[str]]:
    """The DynamoDB requests the application sends while the test runs (one per attempt),
    through the request path's client and the bulk one.

    Counts on the client of the settings in force when the fixture starts: a test that
    points the cache elsewhere must do so before asking for this fixture.
    """
    with aws_clients.sent_requests(aws_clients.dynamodb(), aws_clients.dynamodb_bulk()) as sent:
        yield sent


class FakeClock:
    """A monotonic clock the test moves by hand: time travel without sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The monotonic clock of the process-local caches (API keys) and the cool-downs."""
    clock = FakeClock()
    monkeypatch.setattr(recent_keys, "clock", clock)
    monkeypatch.setattr(score_cache.cool_down, "clock", clock)
    monkeypatch.setattr(rate_limits.cool_down, "clock", clock)
    monkeypatch.setattr(rate_limits.leases, "clock", clock)
    return clock


def sign_in(client: Client, user: Any) -> Client:
    """Sign `user` in on `client` as the admin's sign-in would: password session, and a
    TOTP-verified session when the user has an authenticator (enrolled here if needed)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and totp_required(user):
        device = TOTPDevice.objects.create(user=user, name="test authenticator")
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


STAFF_PASSWORD = "a-Long-and-Unusual-passphrase-42"  # noqa: S105 (test users only)


@pytest.fixture
def staff_user(django_user_model: Any) -> Callable[..., tuple[Any, Any]]:
    """Make a staff user (password STAFF_PASSWORD) in a role, or a superuser, with a
    confirmed authenticator when `totp`; returns (user, TOTP device or None)."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def make(
        username: str = "ana",
        *,
        role: str | None = None,
        superuser: bool = False,
        totp: bool = False,
    ) -> tuple[Any, Any]:
        user = django_user_model.objects.create_user(
            username=username, password=STAFF_PASSWORD, is_staff=True, is_superuser=superuser
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        device = TOTPDevice.objects.create(user=user, name="phone") if totp else None
        return user, device

    return make


def totp_code(secret: bytes) -> str:
    """The code an authenticator app shows now for this secret (raw bytes)."""
    from django_otp.oath import TOTP

    return f"{TOTP(secret).token():06d}"


def admin_sign_in(client: Client, username: str, password: str, code: str = "") -> Any:
    """Sign in through the admin's sign-in page, as a person does; returns the response."""
    from django.conf import settings

    return client.post(
        f"/{settings.ADMIN_URL}login/",
        {"username": username, "password": password, "otp_token": code},
    )


def admin_search(client: Client, changelist: str, term: str, **params: str) -> Any:
    """Search a changelist as its search box does: a POST, answered with a redirect to the
    changelist at an address that holds no CPF (scores/admin/cpf_search.py). The page it lands
    on; its query string is `.request["QUERY_STRING"]`."""
    from urllib.parse import urlencode

    address = f"{changelist}?{urlencode(params)}" if params else changelist
    return client.post(address, {"_search": "1", "q": term, **params}, follow=True)


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Client:
    """pytest-django's admin client, signed in with the second factor superusers need."""
    return sign_in(Client(), admin_user)


@pytest.fixture
def start_servers(score_table: str, settings: Any) -> Iterator[Callable[..., list[Any]]]:
    """Start `count` app servers (gunicorn, one sync worker each) on the test stores: the
    test database as the serving role (data they must see must be committed: transactional
    tests) and this test's score table. Stopped afterwards."""
    from django.db import connection

    from devstack.services import AppServer

    started: list[AppServer] = []
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )

    def start(count: int, **environment: str) -> list[AppServer]:
        servers = [
            AppServer(
                {
                    "DJANGO_SETTINGS_MODULE": "scoreportal.settings_test",
                    # As the serving role, and nothing else.
                    "DATABASE_URL": database_url,
                    "DATABASE_OWNER_URL": "",
                    "DYNAMODB_ENDPOINT_URL": settings.DYNAMODB_ENDPOINT_URL,
                    "SCORE_CACHE_TABLE": score_table,
                    **environment,
                },
                workers=1,
                log_name=f"test-server-{n}",
            )
            for n in range(count)
        ]
        started.extend(servers)
        for server in servers:
            server.wait_until_ready()
        return servers

    yield start
    for server in started:
        server.stop()


# ---------------------------------------------------------------------------------------
# Browser tests: Debian's Chromium driven by its ChromeDriver (Selenium), headless
# ---------------------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session. Skipped without it, except in CI."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = "Chromium and ChromeDriver are needed: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1366,768",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "pt-BR,pt"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for CSP
    # In Portuguese, as the staff's browsers are: the browser's own controls (a file field's
    # button, a date field's placeholder) too, from Debian's chromium-l10n. On Linux the
    # browser takes its language from the environment (--lang is ignored there).
    language = {**os.environ, "LANGUAGE": "pt_BR"}
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), env=language), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: Any, live_server: Any) -> Iterator[Any]:
    """The session's Chromium with no cookies left from another test. Afterwards, the test
    fails if a page it opened broke the Content-Security-Policy, logged a script error or
    missed a static file (the browser's console: what a person does not see)."""
    chromium.delete_all_cookies()
    chromium.get(live_server.url + "/static/admin/css/base.css")  # a page of this origin
    chromium.delete_all_cookies()
    chromium.get_log("browser")  # forget what earlier tests left
    yield chromium
    problems = [
        entry["message"]
        for entry in chromium.get_log("browser")
        if "Content Security Policy" in entry["message"]
        or (entry["level"] == "SEVERE" and not _a_page_s_own_status(entry["message"]))
    ]
    assert not problems, problems


def _a_page_s_own_status(message: str) -> bool:
    """A console line saying a page (not a script, style or image) answered 4xx: the
    browser logs the lockout page's 403 too, which a test may mean to reach."""
    return "Failed to load resource" in message and "/static/" not in message


def wait_for(browser: Any, css: str, timeout: float = 10) -> Any:
    """The element matching `css`, once the page shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def follow(browser: Any, target: Any) -> None:
    """Click `target` (a CSS selector or an element) and wait until the next page replaced
    this one: a `wait_for` right after a click could otherwise find the old page's copy
    of an element both pages have."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element("css selector", "html")
    element = browser.find_element("css selector", target) if isinstance(target, str) else target
    element.click()

    def replaced(driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:
            # Stale, or, asked in the middle of the navigation, ChromeDriver's "node does not
            # belong to the document" (an unknown error rather than a stale element).
            return True
        return False

    WebDriverWait(browser, 10).until(replaced)


def browser_sign_in(
    browser: Any, base_url: str, username: str, password: str, code: str = ""
) -> None:
    """Fill and submit the admin's sign-in form."""
    from django.conf import settings

    browser.get(f"{base_url}/{settings.ADMIN_URL}")
    wait_for(browser, "#id_username").send_keys(username)
    browser.find_element("css selector", "#id_password").send_keys(password)
    if code:
        browser.find_element("css selector", "#id_otp_token").send_keys(code)
    follow(browser, "#login-form [type=submit]")


def screenshot(browser: Any, name: str) -> None:
    """Save a screenshot when SCREENSHOTS_DIR is set (for people to look at; never asserted)."""
    directory = os.environ.get("SCREENSHOTS_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(directory) / f"{name}.png"))


@pytest.fixture
def log_output() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Everything logged while the test runs, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(WithoutRequestTarget())
    names = ("", "django.request", "django.server")  # the last two do not propagate
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for name in names:
        logging.getLogger(name).removeHandler(handler)
