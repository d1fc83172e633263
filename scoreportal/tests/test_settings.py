"""Production start-up refuses to run on missing or weak configuration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "settings-test-secret-key-0123456789abcdefghijklmno",  # 50
    "CPF_HASH_KEY": "k" * 40,
    "DATABASE_URL": "postgres://u:p@db.invalid:5432/scoreportal",
}


def load_settings(**overrides):
    """Start Django (settings, then every app's ready()) in a fresh interpreter with exactly
    this environment, as a Lambda function's init does."""
    env = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith("DJANGO")
    }
    env.update(PRODUCTION, DJANGO_SETTINGS_MODULE="scoreportal.settings")
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_if_production_is_fully_configured_then_settings_load():
    assert load_settings().returncode == 0


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "CPF_HASH_KEY", "DATABASE_URL"])
def test_if_a_production_secret_is_missing_then_start_up_stops_naming_it(name):
    result = load_settings(**{name: None})

    assert result.returncode != 0
    assert f"{name} must be set when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"CPF_HASH_KEY": "short"}, "CPF_HASH_KEY must be at least 32", id="weak-hash-key"
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": "x"},
            "DJANGO_SECRET_KEY must be at least 50 characters",
            id="one-character-secret-key",
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": PRODUCTION["DJANGO_SECRET_KEY"][:49]},
            "DJANGO_SECRET_KEY must be at least 50 characters",
            id="49-character-secret-key",
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": "s" * 64},
            "DJANGO_SECRET_KEY must be at least 50 characters",
            id="one-character-repeated",
        ),
        pytest.param(
            {"AUDIT_RETENTION_DAYS": "90"},
            "AUDIT_RETENTION_DAYS must be at least",
            id="short-retention",
        ),
    ],
)
def test_if_production_configuration_is_unsafe_then_start_up_stops(overrides, message):
    result = load_settings(**overrides)

    assert result.returncode != 0
    assert message in result.stderr


def test_if_debug_is_on_then_laptop_defaults_apply():
    result = load_settings(
        DJANGO_DEBUG="true", DJANGO_SECRET_KEY=None, CPF_HASH_KEY=None, DATABASE_URL=None
    )

    assert result.returncode == 0


def test_if_production_names_a_secret_then_settings_load_from_secrets_manager(settings):
    import boto3

    endpoint = settings.DYNAMODB_ENDPOINT_URL  # the local moto server
    name = "scoreportal/settings-test"
    boto3.client("secretsmanager", region_name="sa-east-1", endpoint_url=endpoint).create_secret(
        Name=name, SecretString=json.dumps(PRODUCTION)
    )

    result = load_settings(
        DJANGO_SECRET_KEY=None,
        CPF_HASH_KEY=None,
        DATABASE_URL=None,
        SCOREPORTAL_SECRET_ID=name,
        AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
    )

    assert result.returncode == 0, result.stderr


def test_if_settings_read_a_variable_then_env_example_documents_it():
    source = (ROOT / "scoreportal" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    read |= set(re.findall(r'_required\(\s*"([A-Z][A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))

    assert read
    assert read - documented == set()


def test_if_production_settings_are_checked_for_deployment_then_there_is_nothing_to_say():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    env.update(
        PRODUCTION, DJANGO_ALLOWED_HOSTS="scores.example.com.br", DJANGO_IGNORE_DOT_ENV="true"
    )
    env["DJANGO_SECRET_KEY"] = "a-long-random-production-like-secret-" + "Xy7" * 10

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_if_a_page_is_served_over_https_then_it_carries_hsts_and_a_csp(client, db):
    response = client.get("/admin/login/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
