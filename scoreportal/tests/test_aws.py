"""The small AWS JSON-protocol client: signatures identical to botocore's, errors mapped."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from devstack.services import free_port
from scoreportal.aws import AwsError, JsonProtocolClient

NOW = datetime(2026, 11, 22, 10, 30, 15, tzinfo=UTC)
BODY = b'{"TableName":"scoreportal-scores","Key":{"cpf_hash":{"S":"abc"}}}'


@pytest.mark.parametrize(
    ("service", "prefix", "version", "endpoint"),
    [
        pytest.param("dynamodb", "DynamoDB_20120810", "1.0", None, id="dynamodb-aws"),
        pytest.param(
            "dynamodb", "DynamoDB_20120810", "1.0", "http://127.0.0.1:4566", id="dynamodb-port"
        ),
        pytest.param("secretsmanager", "secretsmanager", "1.1", None, id="secretsmanager-aws"),
        pytest.param(
            "dynamodb",
            "DynamoDB_20120810",
            "1.0",
            "https://vpce-1.dynamodb.sa-east-1.vpce.amazonaws.com",
            id="vpc-endpoint",
        ),
    ],
)
@pytest.mark.parametrize("token", [None, "session-token/with+chars="], ids=["keys", "session"])
def test_if_a_request_is_signed_then_the_signature_is_exactly_botocore_s(
    monkeypatch, service, prefix, version, endpoint, token
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    else:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = JsonProtocolClient(
        service=service,
        target_prefix=prefix,
        json_version=version,
        region="sa-east-1",
        endpoint_url=endpoint,
    )

    ours = client.signed_headers("GetItem", BODY, now=NOW)

    request = AWSRequest(
        method="POST",
        url=client.url,
        data=BODY,
        headers={"Content-Type": ours["content-type"], "X-Amz-Target": ours["x-amz-target"]},
    )
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    credentials = BotocoreCredentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token
    )
    SigV4Auth(credentials, service, "sa-east-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]


def test_if_the_aws_api_answers_an_error_then_its_code_is_raised(dynamodb, settings):
    client = JsonProtocolClient(
        service="dynamodb",
        target_prefix="DynamoDB_20120810",
        json_version="1.0",
        region="sa-east-1",
        endpoint_url=settings.DYNAMODB_ENDPOINT_URL,
    )

    with pytest.raises(AwsError) as caught:
        client.call("DescribeTable", {"TableName": "no-such-table"})

    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.status == 400


def test_if_the_endpoint_is_unreachable_then_every_attempt_is_made_and_bounded():
    client = JsonProtocolClient(
        service="dynamodb",
        target_prefix="DynamoDB_20120810",
        json_version="1.0",
        region="sa-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=2,
    )
    calls: list[str] = []
    client.add_listener(calls.append)
    started = time.monotonic()

    with pytest.raises(AwsError) as caught:
        client.call("GetItem", {"TableName": "t", "Key": {}})

    assert caught.value.code == "ConnectionError"
    assert calls == ["GetItem"]
    assert time.monotonic() - started < 1
