"""The Zappa package serves real requests when invoked the way Lambda invokes it.

Builds the package exactly as `make package` does (a clean virtualenv of requirements.txt,
manylinux wheels, collectstatic, `zappa package`), unzips it, and in a fresh interpreter
that can import nothing but the package calls `handler.lambda_handler` with API Gateway
REST (v1) and HTTP API (v2) events. Secrets come from Secrets Manager (moto), the data
from the test Postgres, the cache from the local DynamoDB endpoint. The last test keeps one
such function warm and drives it as staff's browsers and API clients do, then reads
everything it wrote for CPFs, keys and tokens.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
import urllib.request
import uuid
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import boto3
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User
from django.db import connection, connections
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from accounts.staff import StaffRole
from conftest import totp_code
from devstack.faults import http_proxy
from devstack.lambda_invoke import (
    API_HOST,
    SOURCE_IP,
    WarmFunction,
    http_api_event,
    invoke_fresh_process,
    rest_api_event,
)
from devstack.lambda_package import AWS_SERVICES, build_package, never_loaded
from devstack.services import checkout_roles, copy_database, ensure_database, postgres_cluster
from scoreportal import aws_clients
from scoreportal.tests.lambda_browser import LambdaBrowser
from scores.models import Consultation, ProfileImport
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
ZAPPA_SETTINGS = PROJECT / "zappa_settings.json"
DEPLOY_WORKFLOW = PROJECT / ".github" / "workflows" / "deploy-stage.yml"
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Lambda refuses a zip over 50 MB sent inline, in the UpdateFunctionCode or CreateFunction
# call (what zappa 0.63 does with `--zip <local file>`); from S3 only the unzipped size counts.
INLINE_UPLOAD_LIMIT = 50 * 1024 * 1024
# What the package may weigh zipped: well under the inline limit, so the upload never
# depends on how it is made.
PACKAGE_BUDGET = 30 * 1024 * 1024


# Session-scoped: pytest-django runs the transactional tests after all others, which would
# tear a module-scoped package down between this module's tests and build it twice.
@pytest.fixture(scope="session")
def package(tmp_path_factory):
    work = tmp_path_factory.mktemp("lambda")
    built = build_package("dev", work / "scoreportal-dev.zip", work_dir=work)
    unzipped = work / "package"
    with zipfile.ZipFile(built.path) as archive:
        archive.extractall(unzipped)
    return built, unzipped


@pytest.fixture
def lambda_environment(settings, score_table):
    """The function's configuration: what zappa_settings.json and Secrets Manager provide."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    secret_id = f"scoreportal/dev-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "secretsmanager", region_name="sa-east-1", endpoint_url=settings.DYNAMODB_ENDPOINT_URL
    ).create_secret(
        Name=secret_id,
        SecretString=json.dumps(
            {
                "DJANGO_SECRET_KEY": "lambda-test-secret-key-" + "x" * 40,
                "CPF_HASH_KEY": settings.CPF_HASH_KEY.decode(),
                "DATABASE_URL": database_url,
            }
        ),
    )
    stage = json.loads(ZAPPA_SETTINGS.read_text())["dev"]
    return {
        # What the Lambda runtime sets, then the stage's own function configuration...
        "AWS_REGION": "sa-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "LAMBDA_TASK_ROOT": "/var/task",
        **stage["aws_environment_variables"],
        # ...with this test's secret and table,
        "SCOREPORTAL_SECRET_ID": secret_id,
        "SCORE_CACHE_TABLE": score_table,
        # and local stand-ins for the AWS endpoints.
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": settings.DYNAMODB_ENDPOINT_URL,
        "DYNAMODB_ENDPOINT_URL": settings.DYNAMODB_ENDPOINT_URL,
    }


def invoke(package_dir, environment, events, tmp_path):
    """Run the events through the package's handler in a fresh, bare interpreter."""
    run = invoke_fresh_process(package_dir, events, environment, tmp_path)
    return run.responses, run.log


def body(response):
    return json.loads(response["body"])


def base64_body(event, raw):
    """The event API Gateway sends for a binary body (zappa_settings: binary_support)."""
    return {**event, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def hostile_events(auth, score):
    """(name, event, the answer it must get: status, code) for the hostile-input cases."""
    limit = 64 * 1024
    padded = '{"cpf": "52998224725"' + " " * (limit - 21) + "}"  # 64 KiB + 1 byte
    post = "POST"
    url = "/api/v1/scores"
    return [
        (
            "64 KiB + 1",
            rest_api_event(post, url, headers=auth, body=padded),
            (413, "payload_too_large"),
        ),
        (
            "1 MB",
            http_api_event(post, url, headers=auth, body=" " * 1_000_000),
            (413, "payload_too_large"),
        ),
        (
            "33 deep",
            rest_api_event(post, url, headers=auth, body="[" * 33 + "]" * 33),
            (400, "invalid_request"),
        ),
        (
            "field twice",
            http_api_event(post, url, headers=auth, body='{"cpf": "1", "cpf": "52998224725"}'),
            (400, "invalid_request"),
        ),
        (
            "NaN",
            rest_api_event(post, url, headers=auth, body='{"cpf": NaN}'),
            (400, "invalid_request"),
        ),
        ("BOM", http_api_event(post, url, headers=auth, body="\ufeff" + score), (200, None)),
        (
            "invalid UTF-8",
            base64_body(rest_api_event(post, url, headers=auth), b'{"cpf": "5299822\xff4725"}'),
            (400, "invalid_request"),
        ),
        (
            "text/plain",
            http_api_event(post, url, headers={**auth, "Content-Type": "text/plain"}, body=score),
            (400, "invalid_request"),
        ),
        (
            "chunked, as API Gateway passes it on",
            rest_api_event(post, url, headers={**auth, "Transfer-Encoding": "chunked"}, body=score),
            (200, None),
        ),
        (
            "150 header fields",
            http_api_event(
                post,
                url,
                headers={**auth, **{f"X-Padding-{n}": "a" for n in range(150)}},
                body=score,
            ),
            (200, None),
        ),
        (
            "header value of 9,000 bytes",
            rest_api_event(post, url, headers={**auth, "X-Padding": "a" * 9000}, body=score),
            (200, None),
        ),
        (
            "unknown path of 3,000 bytes",
            rest_api_event("GET", "/api/v1/" + "a" * 3000, headers=auth),
            (404, "not_found"),
        ),
        (
            "POST /api/schema with a key",
            rest_api_event(post, "/api/schema", headers=auth, body=score),
            (405, "method_not_allowed"),
        ),
        (
            "DELETE /api/docs, no key",
            http_api_event("DELETE", "/api/docs"),
            (405, "method_not_allowed"),
        ),
    ]


def test_if_the_package_is_built_then_it_holds_the_app_and_no_dev_files(package):
    built, unzipped = package

    names = {path.relative_to(unzipped).as_posix() for path in unzipped.rglob("*")}
    assert built.unzipped_bytes < MAX_UNZIPPED_BYTES
    assert {
        "handler.py",
        "zappa_settings.py",
        "manage.py",
        "scores/scorecards/2026.1.json",
    } <= names
    assert any(name.startswith("staticfiles/admin/css/base.") for name in names)
    for unwanted in (
        "pytest",
        "_pytest",
        "moto",
        "hypothesis",
        "mypy",
        "ruff",
        "devstack",
        "bench",
        "docs",
    ):
        assert unwanted not in names, unwanted
    assert not [
        name for name in names if name.endswith(("conftest.py", ".sqlite3")) or "/tests/" in name
    ]


def test_if_the_package_is_built_then_it_holds_nothing_the_function_never_loads(package):
    built, unzipped = package

    assert built.zipped_bytes <= PACKAGE_BUDGET < INLINE_UPLOAD_LIMIT
    assert never_loaded(unzipped) == {}
    services = {path.name for path in (unzipped / "botocore" / "data").iterdir() if path.is_dir()}
    assert services == AWS_SERVICES
    for read_by_every_client in ("endpoints", "partitions", "sdk-default-configuration"):
        assert (unzipped / "botocore" / "data" / f"{read_by_every_client}.json").is_file()
    assert list(unzipped.glob("locale/*/LC_MESSAGES/django.mo"))
    assert list(unzipped.glob("django/contrib/admin/locale/pt_BR/LC_MESSAGES/django.mo"))
    # collectstatic kept the hashed names only, each with its .gz (WhiteNoise serves it to
    # browsers that accept it).
    static = unzipped / "staticfiles"
    hashed = set(json.loads((static / "staticfiles.json").read_text())["paths"].values())
    served = {
        path.relative_to(static).as_posix()
        for path in static.rglob("*")
        if path.is_file() and path.name != "staticfiles.json"
    }
    assert served - {f"{name}.gz" for name in hashed} <= hashed
    assert "admin/css/base.css" not in served
    assert any(re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css\.gz", name) for name in served)


def test_if_the_pipeline_deploys_then_it_sends_the_zip_through_s3_not_inline():
    """zappa 0.63 reads a local `--zip` file into the CreateFunction / UpdateFunctionCode
    call itself (cli.py `deploy` and `update`: `local_zip`), where Lambda's inline limit
    applies; with `--zip s3://bucket/key` it passes S3Bucket and S3Key instead."""
    text = DEPLOY_WORKFLOW.read_text()
    commands = re.findall(r"zappa (?:deploy|update) \S+ --zip (\S+)", text)

    assert len(commands) == 4  # deploy or update, of the ops and the serving function
    assert all(zip_path.startswith('"$PACKAGES/') for zip_path in commands), commands
    assert 'echo "PACKAGES=s3://$bucket/' in text
    uploads = re.findall(r"aws s3 cp (\S+) (\S+)", text)
    assert {source for source, _ in uploads} == {
        '"build/scoreportal-$STAGE.zip"',
        '"build/scoreportal-$OPS_STAGE.zip"',
    }
    assert {target for _, target in uploads} == set(commands)


@pytest.mark.django_db(transaction=True)
def test_if_lambda_invokes_the_handler_then_scores_are_served_for_v1_and_v2_events(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    _, plaintext = issue_key()
    # Keys allowed only the forged address's network, or only the real one.
    _, for_forged = issue_key(name="forged network", allowed_networks=["1.2.3.0/24"])
    _, for_real = issue_key(name="real network", allowed_networks=[f"{SOURCE_IP}/32"])
    # API Gateway appends the real address to whatever X-Forwarded-For the client sent.
    auth = {
        "Content-Type": "application/json",
        "Authorization": f"Api-Key {plaintext}",
        "X-Forwarded-For": f"1.2.3.4, {SOURCE_IP}",
    }
    score = json.dumps({"cpf": EXAMPLE_CPF})

    def key(plaintext):
        return {**auth, "Authorization": f"Api-Key {plaintext}"}

    hostile = hostile_events(auth, score)

    responses, log = invoke(
        unzipped,
        lambda_environment,
        [
            rest_api_event("POST", "/api/v1/scores", headers=auth, body=score),
            http_api_event(
                "POST", "/api/v1/scores", headers=auth, body=json.dumps({"cpf": "52998224725"})
            ),
            rest_api_event("POST", "/api/v1/scores", headers=auth, body=json.dumps({"cpf": "123"})),
            http_api_event(
                "POST", "/api/v1/scores", headers={"Content-Type": "application/json"}, body=score
            ),
            # A client putting the CPF in the URL: Zappa's access log line names the path.
            rest_api_event("GET", "/api/v1/scores/529.982.247-25", headers=auth),
            rest_api_event("POST", "/api/v1/scores", headers=key(for_forged), body=score),
            http_api_event("POST", "/api/v1/scores", headers=key(for_forged), body=score),
            rest_api_event("POST", "/api/v1/scores", headers=key(for_real), body=score),
            http_api_event("POST", "/api/v1/scores", headers=key(for_real), body=score),
            # Hostile input, answered by the application as under gunicorn
            # (scores/tests/api/test_input_limits.py); what API Gateway refuses before Lambda
            # (over 10 MB, over 10 KB of headers) is in docs/api.md.
            *[event for _, event, _ in hostile],
        ],
        tmp_path,
    )

    v1, v2, bad_cpf, no_key, cpf_in_url, *rest = responses
    allowlist, hostile_answers = rest[:4], rest[4:]
    assert v1["statusCode"] == 200
    assert body(v1)["score"] == 975
    assert body(v1)["source"] == "computed"
    assert v1["headers"]["X-Request-ID"] == body(v1)["request_id"]
    assert v2["statusCode"] == 200
    assert body(v2)["source"] == "cache"
    assert {k: body(v2)[k] for k in ("cpf", "score", "band", "reasons")} == {
        k: body(v1)[k] for k in ("cpf", "score", "band", "reasons")
    }
    assert bad_cpf["statusCode"] == 400
    assert body(bad_cpf)["error"]["code"] == "invalid_cpf"
    assert no_key["statusCode"] == 401
    assert body(no_key)["error"]["code"] == "missing_api_key"
    assert cpf_in_url["statusCode"] == 404
    # Zappa's access line named the path; no logger writes it now (settings.LOGGING).
    assert "zappa.wsgi" not in log
    # The allowlist decides on the same address: the forged one opens nothing.
    assert [(r["statusCode"], body(r).get("error", {}).get("code")) for r in allowlist] == [
        (403, "ip_not_allowed"),
        (403, "ip_not_allowed"),
        (200, None),
        (200, None),
    ]
    assert [(r["statusCode"], body(r).get("error", {}).get("code")) for r in hostile_answers] == [
        answer for _, _, answer in hostile
    ], [name for name, _, _ in hostile]
    # The unknown URLs and the documents are not consultations.
    assert Consultation.objects.count() == 8 + sum(
        1 for _, event, (status, _) in hostile if status != 404 and "/api/v1/" in str(event)
    )
    # The address API Gateway saw, never the one the client wrote.
    assert set(Consultation.objects.values_list("client_ip", flat=True)) == {SOURCE_IP}
    assert "52998224725" not in log
    assert "ERROR" not in log  # no error at start-up (e.g. a module taken for a handler)
    assert EXAMPLE_CPF not in log
    assert plaintext.split(".")[1] not in log


@pytest.mark.django_db(transaction=True)
def test_if_lambda_serves_the_admin_and_health_then_pages_render_with_their_css(
    package, lambda_environment, tmp_path
):
    _, unzipped = package

    (login, health), _ = invoke(
        unzipped,
        lambda_environment,
        [rest_api_event("GET", "/admin/login/"), http_api_event("GET", "/api/v1/health")],
        tmp_path,
    )
    assert login["statusCode"] == 200
    stylesheet = re.search(r'href="(/dev/static/admin/css/base\.[0-9a-f]+\.css)"', login["body"])
    assert stylesheet, re.findall(r"<link[^>]+>", login["body"])
    assert health["statusCode"] == 200
    assert body(health) == {"status": "ok", "database": "ok", "score_cache": "ok"}

    (css,), _ = invoke(
        unzipped,
        lambda_environment,
        [rest_api_event("GET", stylesheet[1].removeprefix("/dev"))],
        tmp_path,
    )
    assert css["statusCode"] == 200
    assert css["headers"]["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in css["headers"]["Cache-Control"]
    assert "body" in css["body"]


class _Links(HTMLParser):
    """The addresses a browser fetches to show a page: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        address = attributes.get("src") if tag in ("script", "img") else None
        if tag == "link" and attributes.get("rel") in ("stylesheet", "icon"):
            address = attributes.get("href")
        if address:
            self.found.append(address)


def fetched_by_a_browser(page):
    """The addresses (without the stage) a browser fetches for `page` of the function."""
    links = _Links()
    links.feed(page.body)
    addresses = set()
    for link in links.found:
        if not link.startswith("data:"):
            parts = urlsplit(urljoin(f"https://{API_HOST}/dev{page.url}", link))
            query = f"?{parts.query}" if parts.query else ""
            addresses.add(parts.path.removeprefix("/dev") + query)
    return addresses


def raw_body(answer):
    body = answer.get("body") or ""
    return base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()


def header(answer, name):
    headers = {key.lower(): value for key, value in (answer.get("headers") or {}).items()}
    return headers.get(name.lower())


@pytest.mark.django_db(transaction=True)
def test_if_the_package_is_trimmed_then_every_route_kind_and_linked_static_file_is_served(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    """What NEVER_LOADED leaves out is never asked for: the API's routes, the documents, the
    admin signed out and in, every file their pages link and every file those stylesheets
    link, through the packaged handler."""
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    _, plaintext = issue_key(scopes=["scores:read", "scores:batch"])
    lambda_staff_user("otto", StaffRole.CREDIT_DATA_OPERATORS)
    api = {"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"}

    with WarmFunction(unzipped, lambda_environment, tmp_path) as function:
        answers = {
            "score": function.invoke(
                rest_api_event(
                    "POST", "/api/v1/scores", headers=api, body=json.dumps({"cpf": EXAMPLE_CPF})
                )
            ),
            "batch": function.invoke(
                http_api_event(
                    "POST",
                    "/api/v1/scores/batch",
                    headers=api,
                    body=json.dumps({"cpfs": [EXAMPLE_CPF, OTHER_EXAMPLE_CPF]}),
                )
            ),
            "usage": function.invoke(rest_api_event("GET", "/api/v1/usage", headers=api)),
            "health": function.invoke(http_api_event("GET", "/api/v1/health")),
            "schema": function.invoke(rest_api_event("GET", "/api/schema")),
        }
        browser = LambdaBrowser(function)
        login = browser.get("/admin/login/")
        index = browser.submit(login, "login-form", username="otto", password=LAMBDA_STAFF_PASSWORD)
        changelist = browser.get("/admin/scores/creditprofile/")
        docs = browser.get("/api/docs")
        pages = {"login": login, "index": index, "changelist": changelist, "docs": docs}
        linked = set().union(*(fetched_by_a_browser(page) for page in pages.values()))
        fetched = {}
        to_fetch = sorted(linked)
        cookies = {"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())}
        while to_fetch:  # with the session, as the browser asks (the admin's jsi18n needs it)
            address = to_fetch.pop()
            path, _, query = address.partition("?")
            answer = function.invoke(rest_api_event("GET", path, headers=cookies, query=query))
            fetched[address] = answer
            if (header(answer, "Content-Type") or "").startswith("text/css"):
                for reference in re.findall(r"url\(['\"]?([^'\")]+)", raw_body(answer).decode()):
                    target = urlsplit(urljoin(f"https://{API_HOST}/dev{path}", reference)).path
                    target = target.removeprefix("/dev")
                    if not reference.startswith("data:") and target not in fetched:
                        to_fetch.append(target)
        bundle = next(a for a in fetched if re.search(r"swagger-ui-bundle\.[0-9a-f]+\.js$", a))
        plain = function.invoke(rest_api_event("GET", bundle))
        gzipped = function.invoke(
            rest_api_event("GET", bundle, headers={"Accept-Encoding": "gzip, deflate, br"})
        )

    assert {name: answer["statusCode"] for name, answer in answers.items()} == {
        "score": 200,
        "batch": 200,
        "usage": 200,
        "health": 200,
        "schema": 200,
    }
    assert json.loads(answers["health"]["body"])["status"] == "ok"
    assert raw_body(answers["schema"]).startswith(b"openapi: 3")
    assert {name: page.status for name, page in pages.items()} == dict.fromkeys(pages, 200)
    assert index.url == "/admin/", index.url
    assert "creditprofile" in changelist.body
    # The pages link their own files: the admin's, the authenticator app's, Swagger UI's and
    # its start-up script (served by the docs view itself).
    assert any(address.startswith("/static/admin/css/base.") for address in linked)
    assert any(address.startswith("/static/admin/js/") for address in linked)
    assert any(address.startswith("/static/drf_spectacular_sidecar/") for address in linked)
    assert "/api/docs?script=" in linked, linked
    assert len(fetched) > len(linked)  # the stylesheets' images and fonts too
    assert {a: r["statusCode"] for a, r in fetched.items() if r["statusCode"] != 200} == {}
    for address, answer in fetched.items():
        if address.startswith("/static/"):
            assert "max-age=315360000" in header(answer, "Cache-Control"), address
    # WhiteNoise's .gz copy, for browsers that accept it: the same bytes, a third the size.
    assert header(plain, "Content-Encoding") is None
    assert header(gzipped, "Content-Encoding") == "gzip"
    assert "Accept-Encoding" in header(gzipped, "Vary")
    assert gzip.decompress(raw_body(gzipped)) == raw_body(plain)
    assert len(raw_body(gzipped)) < len(raw_body(plain)) / 2


# Run by Zappa's handler as it is (its `raw_command` event, `exec`): what the process holds,
# written where the test reads it.
INSPECTION = """
import gc, json, sys
from django.db import connection
from django.urls import get_resolver
from scoreportal import aws_clients
with open({path!r}, "w") as file:
    json.dump({{
        "modules": sorted(sys.modules),
        "url_conf_loaded": "url_patterns" in get_resolver().__dict__,
        "dynamodb_clients": aws_clients._dynamodb.cache_info().currsize,
        "database_connected": connection.connection is not None,
        "frozen_objects": gc.get_freeze_count(),
    }}, file)
"""


def inspect_process(function, path):
    assert function.invoke({"raw_command": INSPECTION.format(path=str(path))}) is None
    return json.loads(path.read_text())


@pytest.mark.django_db(transaction=True)
def test_if_lambda_starts_the_function_then_init_does_the_first_requests_work(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    """Before any request (a keep-warm instance), the process has loaded the URL conf and
    the views, created the DynamoDB client, connected to the database and frozen what
    start-up allocated; the first score then imports nothing of ours."""
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    _, plaintext = issue_key()
    score = rest_api_event(
        "POST",
        "/api/v1/scores",
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"},
        body=json.dumps({"cpf": EXAMPLE_CPF}),
    )

    with WarmFunction(unzipped, lambda_environment, tmp_path) as function:
        keep_warm = function.invoke(
            {
                "detail-type": "Scheduled Event",
                "resources": [
                    "arn:aws:events:sa-east-1:123456789012:rule/scoreportal-dev-zappa-keep-warm-handler.keep_warm_callback"
                ],
            }
        )
        before = inspect_process(function, tmp_path / "before.json")
        answer = function.invoke(score)
        after = inspect_process(function, tmp_path / "after.json")

    assert not keep_warm  # it runs no request: Zappa answers None
    assert before["url_conf_loaded"] is True
    assert before["dynamodb_clients"] == 1
    assert before["database_connected"] is True
    assert before["frozen_objects"] > 50_000
    assert answer["statusCode"] == 200
    imported = sorted(set(after["modules"]) - set(before["modules"]))
    ours = [
        name for name in imported if name.split(".")[0] in ("scoreportal", "accounts", "scores")
    ]
    assert ours == [], imported
    assert len(imported) < 10, imported
    assert "ERROR" not in function.log


@pytest.mark.django_db(transaction=True)
def test_if_the_function_serves_a_busy_key_then_it_leases_units_and_still_applies_a_revocation(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    """Through the packaged handler, against an older DynamoDB-compatible store (refusals
    without the item, no x-amz-crc32): a key with a high limit costs one UpdateItem a block,
    not one a request; a small limit is exact; a revocation made elsewhere is applied within
    a second, read in the BatchGetItem the request makes anyway."""
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    busy_key, busy = issue_key(rate_limit_per_minute=100_000, daily_quota=1_000_000)
    _, small = issue_key(name="small", rate_limit_per_minute=5, daily_quota=1_000)

    def score(plaintext):
        return rest_api_event(
            "POST",
            "/api/v1/scores",
            headers={"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"},
            body=json.dumps({"cpf": EXAMPLE_CPF}),
        )

    with http_proxy(lambda_environment["DYNAMODB_ENDPOINT_URL"]) as store:
        store.older_store = True
        environment = {**lambda_environment, "DYNAMODB_ENDPOINT_URL": store.url}
        with WarmFunction(unzipped, environment, tmp_path) as function:
            first = function.invoke(score(busy))  # computed and cached
            before_busy = len(store.operations)
            busy_answers = [function.invoke(score(busy)) for _ in range(40)]
            busy_operations = store.operations[before_busy:]
            small_answers = [function.invoke(score(small)) for _ in range(7)]
            api_key_revoke(api_key=busy_key)  # here: another instance, for the function
            time.sleep(1.0)
            revoked = function.invoke(score(busy))

    assert first["statusCode"] == 200
    assert {(answer["statusCode"], body(answer)["source"]) for answer in busy_answers} == {
        (200, "cache")
    }
    assert busy_operations.count("BatchGetItem") == 40
    assert busy_operations.count("UpdateItem") <= 5, busy_operations
    assert [answer["statusCode"] for answer in small_answers] == [200] * 5 + [429] * 2
    assert {body(answer)["source"] for answer in small_answers[:5]} == {"cache"}
    assert (revoked["statusCode"], body(revoked)["error"]["code"]) == (401, "api_key_revoked")
    assert "WARNING" not in function.log  # the store's answers were all taken as DynamoDB's


@pytest.mark.django_db(transaction=True)
def test_if_the_database_is_down_at_init_then_the_function_starts_answers_503_and_recovers(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    """Connecting at start-up is an optimisation: refused, it is a warning, the requests
    that need the database answer 503, and the first one after it is back is served."""
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    _, plaintext = issue_key()
    score = rest_api_event(
        "POST",
        "/api/v1/scores",
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"},
        body=json.dumps({"cpf": EXAMPLE_CPF}),
    )
    owner = connections["owner"].settings_dict
    test_database = f"postgres://{owner['USER']}@{owner['HOST']}:{owner['PORT']}/{owner['NAME']}"

    with postgres_cluster() as cluster:
        ensure_database(cluster.url)
        roles = checkout_roles(cluster.url)
        copy_database(test_database, cluster.url)
        cluster.stop()
        environment = {**lambda_environment, "DATABASE_URL": roles.serving_url}
        with WarmFunction(unzipped, environment, tmp_path) as function:
            while_down = [
                function.invoke(score),
                function.invoke(http_api_event("GET", "/api/v1/health")),
            ]
            cluster.start()
            once_back = function.invoke(score)

    assert "database not reachable at start-up (OperationalError)" in function.log
    assert [
        (answer["statusCode"], body(answer).get("error", {}).get("code")) for answer in while_down
    ] == [
        (503, "service_unavailable"),
        (503, None),
    ]
    assert once_back["statusCode"] == 200, once_back
    assert body(once_back)["score"] == 975


@pytest.mark.django_db(transaction=True)
def test_if_an_operator_issues_a_key_with_zappa_manage_then_the_log_holds_only_its_location(
    package, lambda_environment, operations_bucket, organization, settings, tmp_path
):
    _, unzipped = package
    environment = {
        **lambda_environment,
        "OPERATIONS_BUCKET": operations_bucket,
        "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL,
    }

    # `zappa manage dev "issue_api_key …"` invokes the function with this event.
    (answer,), log = invoke(
        unzipped,
        environment,
        [{"manage": f"issue_api_key {organization.slug} --name core-banking"}],
        tmp_path,
    )

    assert answer == {}
    location = re.search(r"aws s3 cp s3://[^/\s]+/(handoff/api-key/\S+) -", log)
    assert location, log
    s3 = boto3.client("s3", region_name="sa-east-1", endpoint_url=settings.S3_ENDPOINT_URL)
    plaintext = s3.get_object(Bucket=operations_bucket, Key=location[1])["Body"].read().decode()
    key = ApiKey.objects.get(prefix=plaintext.split(".")[0])
    assert key.organization == organization
    assert plaintext.strip().split(".")[1] not in log
    assert "ERROR" not in log


@pytest.mark.django_db(transaction=True)
def test_if_the_consumer_service_uses_zappa_manage_then_the_function_honours_it_and_logs_no_cpf(
    package, lambda_environment, issue_key, make_profile, tmp_path
):
    _, unzipped = package
    make_profile(EXAMPLE_CPF)
    make_profile(OTHER_EXAMPLE_CPF)
    _, plaintext = issue_key(scopes=["scores:read", "scores:batch"])
    lambda_staff_user("carla", StaffRole.CONSUMER_SERVICE)
    auth = {"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"}
    score = json.dumps({"cpf": EXAMPLE_CPF})
    both = json.dumps({"cpfs": [EXAMPLE_CPF, OTHER_EXAMPLE_CPF]})

    # `zappa manage dev "consumer_request …"` invokes the function with these events.
    responses, log = invoke(
        unzipped,
        lambda_environment,
        [
            rest_api_event("POST", "/api/v1/scores", headers=auth, body=score),  # cached
            {"manage": f"consumer_request suspend {EXAMPLE_CPF} --channel phone --user carla"},
            {
                "manage": f"consumer_request dispute {OTHER_EXAMPLE_CPF} --channel web "
                "--user carla --field protests"
            },
            rest_api_event("POST", "/api/v1/scores", headers=auth, body=score),
            rest_api_event("POST", "/api/v1/scores/batch", headers=auth, body=both),
        ],
        tmp_path,
    )

    cached, _, _, suspended, batch = responses
    assert cached["statusCode"] == 200
    assert (suspended["statusCode"], body(suspended)["error"]["code"]) == (404, "score_suspended")
    first, second = body(batch)["results"]
    assert first == {"status": "score_suspended", "cpf": "***.982.247-**"}
    assert (second["status"], second["under_dispute"]) == ("ok", True)
    assert "protocol" in log  # the command's answer, with the CPF masked
    assert leaks(log, [EXAMPLE_CPF, OTHER_EXAMPLE_CPF], [plaintext]) == []
    assert "ERROR" not in log


@pytest.mark.django_db(transaction=True)
def test_if_lambda_runs_the_import_task_then_it_reads_the_file_from_s3_and_checks_it(
    package, lambda_environment, operations_bucket, settings, tmp_path
):
    """The event Zappa's @task sends (scores.services.profile_imports) runs the import's
    step in the packaged function, reading the upload from the operations bucket."""
    _, unzipped = package
    content = (
        "cpf,on_time_payment_ratio,delinquencies_30d_12m,max_days_past_due_12m,"
        "active_negative_records,protests,credit_utilization,hard_inquiries_90d,"
        "credit_history_months,active_credit_contracts\n"
        f"{EXAMPLE_CPF},0.98,0,0,0,0,0.25,1,96,3\n"
        "529.982.247-26,0.98,0,0,0,0,0.25,1,96,3\n"
    ).encode()
    profile_import = ProfileImport.objects.create(
        source=ProfileImport.Source.ADMIN,
        actor_name="otto",
        file_name="perfis.csv",
        file_size=len(content),
        status=ProfileImport.Status.CHECKING,
    )
    key = f"imports/{profile_import.pk}.csv"
    ProfileImport.objects.filter(pk=profile_import.pk).update(
        file_location=f"s3://{operations_bucket}/{key}"
    )
    aws_clients.s3().put_object(Bucket=operations_bucket, Key=key, Body=content)
    task_event = {
        # What zappa.asynchronous.LambdaAsyncResponse invokes the function with.
        "command": "zappa.asynchronous.route_lambda_task",
        "task_path": "scores.services.profile_imports._profile_import_steps",
        "capture_response": False,
        "response_id": None,
        "args": [str(profile_import.pk)],
        "kwargs": {},
    }

    _, log = invoke(
        unzipped,
        {
            **lambda_environment,
            "OPERATIONS_BUCKET": operations_bucket,
            "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL,
        },
        [task_event],
        tmp_path,
    )

    profile_import.refresh_from_db()
    assert profile_import.status == ProfileImport.Status.CHECKED, log[-3000:]
    assert (profile_import.checked_rows, profile_import.to_create, profile_import.bad_rows) == (
        2,
        1,
        1,
    )
    assert [error[:2] for error in profile_import.row_errors] == [
        [3, "cpf: CPF check digits do not match."]
    ]
    assert len(profile_import.file_sha256) == 64
    assert "52998224726" not in log
    assert "529.982.247-26" not in log


@pytest.mark.django_db(transaction=True)
def test_if_lambda_runs_the_impact_task_and_serves_after_approval_then_it_follows_the_portal(
    package, lambda_environment, issue_key, make_profile, staff_member, tmp_path
):
    """The event Zappa's @task sends for a proposal's impact (scores.services.scorecards)
    runs in the packaged function; after the approval the function serves the new version
    (named in the cache's generation item) and scores the challenger in shadow."""
    from scores.models import ScorecardProposal, ShadowScore
    from scores.services.scorecards import (
        scorecard_approve,
        scorecard_challenger_set,
        scorecard_propose,
    )

    _, unzipped = package
    make_profile(EXAMPLE_CPF, delinquencies_30d_12m=1)
    _, plaintext = issue_key()
    operator = staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)
    approver = staff_member("vera", role=StaffRole.MODEL_APPROVERS)
    with pytest.MonkeyPatch.context() as patch:  # the task is the function's, not this one's
        patch.setattr("scores.services.scorecards.scorecard_impact_step", lambda _id: None)
        proposal = scorecard_propose(version="2026.2", actor=operator)
    task_event = {
        "command": "zappa.asynchronous.route_lambda_task",
        "task_path": "scores.services.scorecards._scorecard_impact_steps",
        "capture_response": False,
        "response_id": None,
        "args": [proposal.pk],
        "kwargs": {},
    }

    (tmp_path / "task").mkdir()
    (tmp_path / "score").mkdir()
    _, log = invoke(unzipped, lambda_environment, [task_event], tmp_path / "task")

    proposal.refresh_from_db()
    assert proposal.impact_status == ScorecardProposal.ImpactStatus.COMPUTED, log[-3000:]
    assert sum(proposal.impact["all"]["proposed"]) == 1
    scorecard_approve(proposal_id=proposal.pk, actor=approver)
    scorecard_challenger_set(actor=approver, version="2026.1", share=100)
    auth = {"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"}

    responses, log = invoke(
        unzipped,
        lambda_environment,
        [
            rest_api_event(
                "POST", "/api/v1/scores", headers=auth, body=json.dumps({"cpf": EXAMPLE_CPF})
            )
        ],
        tmp_path / "score",
    )

    assert (body(responses[0])["model_version"], body(responses[0])["score"]) == ("2026.2", 875)
    shadow = ShadowScore.objects.get()
    assert (shadow.champion_score, shadow.challenger_version, shadow.challenger_score) == (
        875,
        "2026.1",
        925,
    )


def test_if_a_build_directory_is_inside_the_project_then_packaging_refuses(tmp_path):
    with pytest.raises(ValueError, match="outside it"):
        build_package("dev", tmp_path / "x.zip", work_dir=PROJECT / "build")


# ---------------------------------------------------------------------------------------
# Nothing secret reaches the function's log: staff and API clients at the dev stage's INFO
# ---------------------------------------------------------------------------------------
# EXAMPLE_CPF as a person types it into a search box or a form, and as it then travels in a
# query string (a browser's encoding, or a hand's).
CPF_SPELLINGS = [
    ("52998224725", "52998224725"),
    ("529.982.247-25", "529.982.247-25"),
    ("\t52998224725", "%0952998224725"),
    ("\xa0529.982.247-25", "%C2%A0529.982.247-25"),
    ("529 982 247 25", "529+982+247+25"),
    ("529-982-247-25", "529-982-247-25"),
    ("cpf:52998224725;", "cpf%3A52998224725%3B"),
]
THIRD_CPF = "390.533.447-05"
LAMBDA_STAFF_PASSWORD = "Another-long-and-unusual-passphrase-77"


def lambda_staff_user(username, role, *, totp=False):
    """A staff member the function can sign in: the password hashed as production hashes
    it (the test settings' fast hasher is not one the package knows)."""
    user = User.objects.create(
        username=username,
        is_staff=True,
        password=PBKDF2PasswordHasher().encode(LAMBDA_STAFF_PASSWORD, f"salt{username}"),
    )
    user.groups.add(Group.objects.get(name=role))
    device = TOTPDevice.objects.create(user=user, name="phone") if totp else None
    return user, device


def searched(browser, changelist, typed, encoded):
    """A CPF search of `changelist` as staff make it: typed into the search box and
    submitted, and typed by hand into the address bar. Both result pages."""
    page = browser.get(changelist)
    assert page.status == 200, (changelist, page.status)
    return [
        browser.submit(page, "changelist-search", q=typed),
        browser.get(f"{changelist}?q={encoded}"),
    ]


def link_on(page, pattern):
    """The address of the first link of `page` whose href matches `pattern`."""
    match = re.search(rf'href="(?:/dev)?({pattern})"', page.body)
    assert match, (pattern, page.url, page.body[-3000:])
    return match[1].replace("&amp;", "&")


def leaks(log, cpfs, secrets):
    """(secret, line) for each line of `log` that holds a CPF's digits once every non-digit
    is taken out of it, or one of `secrets` as written."""
    found = []
    for line in log.splitlines():
        digits = re.sub(r"[^0-9]", "", line)
        found += [(cpf, line) for cpf in cpfs if re.sub(r"[^0-9]", "", cpf) in digits]
        found += [(secret, line) for secret in secrets if secret in line]
    return found


@pytest.mark.django_db(transaction=True)
def test_if_staff_and_clients_use_the_function_then_its_log_holds_no_cpf_key_or_token(
    package, lambda_environment, operations_bucket, issue_key, make_profile, settings, tmp_path
):
    """End to end through the packaged handler at the dev stage's INFO: a password-set link
    opened and used; an operator and an auditor searching with a CPF in every spelling,
    following links that keep the search, exporting, running the per-CPF report; the API
    with every spelling. Nothing the function wrote holds a CPF, a key or a token."""
    _, unzipped = package
    environment = {
        **lambda_environment,
        "OPERATIONS_BUCKET": operations_bucket,
        "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL,
    }
    assert environment["DJANGO_LOG_LEVEL"] == "INFO"  # the dev stage's
    assert json.loads(ZAPPA_SETTINGS.read_text())["dev"]["log_level"] == "INFO"
    cpfs = [EXAMPLE_CPF, OTHER_EXAMPLE_CPF, THIRD_CPF]
    for cpf in cpfs:
        make_profile(cpf)
    _, plaintext = issue_key(scopes=["scores:read", "scores:batch"])
    _, auditor_device = lambda_staff_user("ana", StaffRole.AUDITORS, totp=True)
    secrets = {plaintext, plaintext.split(".")[1], LAMBDA_STAFF_PASSWORD}
    api = {"Content-Type": "application/json", "Authorization": f"Api-Key {plaintext}"}
    results = []  # (what, page): what each search showed, checked after the log

    with WarmFunction(unzipped, environment, tmp_path) as function:
        # The API with the CPF in every spelling, in bodies; and once where it never
        # belongs, in the address, with the key in the query string too.
        scored = [
            function.invoke(build("POST", "/api/v1/scores", headers=api, body=json.dumps(body)))
            for typed, _ in CPF_SPELLINGS
            for body in ({"cpf": typed}, {"cpf": typed, "purpose": "credit_review"})
            for build in (rest_api_event, http_api_event)
        ]
        batch = function.invoke(
            rest_api_event(
                "POST",
                "/api/v1/scores/batch",
                headers=api,
                body=json.dumps({"cpfs": [typed for typed, _ in CPF_SPELLINGS] + cpfs[1:]}),
            )
        )
        astray = function.invoke(
            http_api_event(
                "GET",
                "/api/v1/scores/529.982.247-25",
                headers=api,
                query=f"cpf=52998224725&api_key={plaintext}",
            )
        )

        # A new operator's password, from the link create_staff_user leaves in the
        # operations bucket when `zappa manage dev "create_staff_user …"` runs it.
        assert function.invoke({"manage": "create_staff_user otto --email o@bank.example"}) == {}
        location = re.search(r"s3://[^/\s]+/(handoff/password-link/\S+) -", function.log)
        assert location, function.log[-3000:]
        link = (
            aws_clients.s3()
            .get_object(Bucket=operations_bucket, Key=location[1])["Body"]
            .read()
            .decode()
            .strip()
        )
        address, _, fragment = link.partition("#")
        secrets |= {link, *(part for part in re.split(r"[/#]", link) if len(part) >= 20)}
        User.objects.get(username="otto").groups.add(
            Group.objects.get(name=StaffRole.CREDIT_DATA_OPERATORS)
        )
        operator = LambdaBrowser(function)

        def password_set_form():
            opened = operator.get(address)  # a browser never sends the fragment
            if fragment:  # what the page's script does with it
                opened = operator.submit(opened, "password-set-link-form", code=fragment)
            return opened

        form_page = password_set_form()
        form_id = next(
            (
                name
                for name, form in form_page.forms().items()
                if "new_password1" in dict(form.fields)
            ),
            None,
        )
        assert form_id, (form_page.url, form_page.body[-3000:])
        done = operator.submit(
            form_page,
            form_id,
            new_password1=LAMBDA_STAFF_PASSWORD,
            new_password2=LAMBDA_STAFF_PASSWORD,
        )
        assert done.status == 200, done.url
        assert "new_password1" not in password_set_form().body  # it worked once

        signed_in = operator.submit(
            operator.get("/admin/login/"),
            "login-form",
            username="otto",
            password=LAMBDA_STAFF_PASSWORD,
        )
        assert signed_in.url == "/admin/", signed_in.url
        for typed, encoded in CPF_SPELLINGS:
            for page in searched(operator, "/admin/scores/creditprofile/", typed, encoded):
                results.append((f"profiles, {typed!r}", page))
        # A profile found by a search, saved, and back to the search.
        found = results[0][1]  # the search for the bare digits
        profile = operator.get(
            link_on(found, r"/admin/scores/creditprofile/[0-9a-f]{64}/change/[^\"]*")
        )
        assert profile.status == 200, profile.url
        saved = operator.submit(profile, "creditprofile_form", _save="Salvar")
        results.append(("saved, back to the search", saved))
        operator.submit(results[-1][1], "logout-form")

        # An auditor with an authenticator app, through HTTP API events (the query
        # string passed on as written).
        auditor = LambdaBrowser(function, http_api=True)
        signed_in = auditor.submit(
            auditor.get("/admin/login/"),
            "login-form",
            username="ana",
            password=LAMBDA_STAFF_PASSWORD,
            otp_token=totp_code(auditor_device.bin_key),
        )
        assert signed_in.url == "/admin/", signed_in.url
        for typed, encoded in CPF_SPELLINGS:
            for page in searched(auditor, "/admin/scores/consultation/", typed, encoded):
                results.append((f"audit trail, {typed!r}", page))
            report = auditor.submit(
                auditor.get("/admin/audit/cpfreport/"), "cpf-report-form", cpf=typed
            )
            assert report.status == 200, report.url
            for page in searched(auditor, "/admin/audit/cpfreportrun/", typed, encoded):
                results.append((f"report runs, {typed!r}", page))
        # A filter of the searched trail keeps the search; the export exports what it shows.
        trail = auditor.submit(
            auditor.get("/admin/scores/consultation/"), "changelist-search", q=EXAMPLE_CPF
        )
        served = auditor.get(link_on(trail, r"\?[^\"]*outcome__exact=scored[^\"]*"))
        results.append(("audit trail, served", served))
        # The export's task writes the file to the bucket (here in the request: the harness
        # is no Lambda that Zappa would invoke again); its page then offers the download, a
        # POST answered with a short-lived link to the object.
        export = auditor.submit(served, "audit-export-form")
        assert export.status == 200, export.url
        assert "export-download-form" in export.forms(), export.body[-3000:]
        download = auditor.submit(export, "export-download-form", follow=False)
        assert download.status == 303, download.url
        with urllib.request.urlopen(download.headers["location"]) as answer:  # noqa: S310 (moto)
            csv_text = answer.read().decode("utf-8")
        assert "***.982.247-**" in csv_text
        assert not leaks(csv_text, cpfs, secrets)
        exports = auditor.get("/admin/audit/auditexport/")
        assert exports.status == 200
        auditor.submit(exports, "logout-form")

    log = function.log
    for browser in (operator, auditor):
        secrets |= {value for value in browser.cookies.values() if len(value) >= 20}
    found = leaks(log, cpfs, secrets)
    digits = [re.sub(r"[^0-9]", "", cpf) for cpf in cpfs]
    lines = len(log.splitlines())
    print(f"{function.invocations} requests driven, {lines} lines captured, {len(found)} found")
    assert not found, found[:20]
    assert "ERROR" not in log, log[-3000:]

    # The API scored the accepted spellings (bare, formatted, surrounded by ASCII spaces).
    assert [answer["statusCode"] for answer in scored] == [200] * 12 + [400] * 16
    assert batch["statusCode"] == 200
    assert astray["statusCode"] == 404
    # No page the browsers were on, no redirect they followed (so no Referer they sent)
    # held a CPF: only the addresses typed by hand did.
    addresses = [*operator.addresses, *auditor.addresses]
    assert [a for a in addresses if any(d in re.sub(r"[^0-9]", "", a) for d in digits)] == []
    assert sum("q=cpf-" in address for address in addresses) >= 4 * len(CPF_SPELLINGS)
    # Every search found the CPF's profile or rows, whatever its spelling.
    for what, page in results:
        assert page.status == 200, (what, page.url)
        assert "***.982.247-**" in page.body, (what, page.url)
        assert "***.444.777-**" not in page.body, (what, page.url)
    served_rows = csv_text.splitlines()[1:]
    assert served_rows
    assert all("***.982.247-**" in row for row in served_rows)
