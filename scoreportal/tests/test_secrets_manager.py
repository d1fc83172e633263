"""Secrets from AWS Secrets Manager at start-up, against moto's server over HTTP."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured

from scoreportal.secrets_manager import load_secrets_into_environ

SECRETS = {
    "DJANGO_SECRET_KEY": "s" * 50,
    "CPF_HASH_KEY": "k" * 40,
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/scoreportal",
}


@pytest.fixture
def secrets_endpoint(settings, monkeypatch):
    """moto serves every AWS API on one endpoint; boto3 reads this variable itself."""
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    return boto3.client("secretsmanager", region_name="sa-east-1", endpoint_url=endpoint)


def create_secret(client, value):
    name = f"scoreportal/test-{uuid.uuid4().hex[:8]}"
    client.create_secret(Name=name, SecretString=value)
    return name


def test_if_a_secret_is_named_then_its_values_fill_the_environment(secrets_endpoint):
    name = create_secret(secrets_endpoint, json.dumps(SECRETS))
    environ = {"SCOREPORTAL_SECRET_ID": name, "AWS_REGION": "sa-east-1"}

    loaded = load_secrets_into_environ(environ)

    assert loaded == ["DJANGO_SECRET_KEY", "CPF_HASH_KEY", "DATABASE_URL"]
    assert {k: environ[k] for k in loaded} == SECRETS


def test_if_the_root_logger_is_at_debug_at_start_up_then_the_secret_is_not_logged(
    secrets_endpoint, settings
):
    """Before Django configures logging, Zappa's handler has set the root logger to the
    stage's log_level (and added a handler): at DEBUG, botocore writes every answer."""
    import io
    import logging
    from logging.config import dictConfig

    name = create_secret(secrets_endpoint, json.dumps(SECRETS))
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    saved = root.level
    dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {
                "botocore": {"level": "NOTSET"},
                "boto3": {"level": "NOTSET"},
                "urllib3": {"level": "NOTSET"},
            },
        }
    )
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        load_secrets_into_environ({"SCOREPORTAL_SECRET_ID": name, "AWS_REGION": "sa-east-1"})
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
        dictConfig(settings.LOGGING)

    for value in SECRETS.values():
        assert value not in stream.getvalue()


def test_if_a_variable_is_already_set_then_it_wins_over_the_secret(secrets_endpoint):
    name = create_secret(secrets_endpoint, json.dumps(SECRETS))
    environ = {"SCOREPORTAL_SECRET_ID": name, "DATABASE_URL": "postgres://explicit/db"}

    loaded = load_secrets_into_environ(environ)

    assert "DATABASE_URL" not in loaded
    assert environ["DATABASE_URL"] == "postgres://explicit/db"


def test_if_no_secret_is_named_then_nothing_is_fetched():
    environ: dict[str, str] = {}

    assert load_secrets_into_environ(environ) == []
    assert environ == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "cannot read secret", id="missing-secret"),
        pytest.param("not json", "is not a JSON object", id="not-json"),
        pytest.param('["a list"]', "is not a JSON object", id="not-an-object"),
    ],
)
def test_if_the_secret_cannot_be_used_then_start_up_stops_without_leaking_it(
    secrets_endpoint, value, message
):
    name = "scoreportal/absent" if value is None else create_secret(secrets_endpoint, value)

    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        load_secrets_into_environ({"SCOREPORTAL_SECRET_ID": name})

    assert name in str(caught.value)
    assert "not json" not in str(caught.value)
