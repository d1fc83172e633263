"""The seed's anchor (bench/anchor/) packaged and invoked as `make bench` does it."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile

import pytest

from bench.cold_start import build_anchor
from devstack.__main__ import LOCAL_AWS
from devstack.lambda_invoke import invoke_fresh_process, rest_api_event
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = pytest.mark.slow


def test_if_the_anchor_is_invoked_then_it_answers_the_cached_score_with_one_get_item(
    settings, dynamodb, score_table, tmp_path
):
    digits = "".join(c for c in EXAMPLE_CPF if c.isdigit())
    key = hmac.new(settings.CPF_HASH_KEY, digits.encode(), hashlib.sha256).hexdigest()
    dynamodb.put_item(
        TableName=score_table,
        Item={
            "pk": {"S": key},
            "score": {"N": "975"},
            "band": {"S": "excellent"},
            "probability_of_default": {"N": "0.0012"},
            "reason_codes": {"L": [{"S": "R01"}]},
        },
    )
    package = build_anchor(tmp_path / "build")
    unzipped = tmp_path / "anchor"
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(unzipped)
    environment = {
        **LOCAL_AWS,
        "SCORE_CACHE_TABLE": score_table,
        "CPF_HASH_KEY": settings.CPF_HASH_KEY.decode(),
        "DYNAMODB_ENDPOINT_URL": settings.DYNAMODB_ENDPOINT_URL,
    }

    def score(cpf):
        body = json.dumps({"cpf": "".join(c for c in cpf if c.isdigit())})
        return rest_api_event(
            "POST", "/api/v1/scores", headers={"Content-Type": "application/json"}, body=body
        )

    run = invoke_fresh_process(
        unzipped, [score(EXAMPLE_CPF), score(OTHER_EXAMPLE_CPF)], environment, tmp_path
    )

    cached, unknown = run.responses
    assert cached["statusCode"] == 200
    assert json.loads(cached["body"]) == {
        "cpf": "***.982.247-**",
        "score": 975,
        "band": "excellent",
        "probability_of_default": 0.0012,
        "reason_codes": ["R01"],
    }
    assert unknown["statusCode"] == 404
    assert all(cpu > 0 for cpu in run.invocation_cpu_seconds)
    # A benchmark dependency only: nothing of ours is in its package, nor it in ours.
    names = {info.filename.split("/")[0] for info in zipfile.ZipFile(package.path).infolist()}
    assert {"handler.py", "fastapi", "mangum", "boto3"} <= names
    assert not names & {"scoreportal", "scores", "accounts", "django"}
    requirements = (settings.BASE_DIR / "requirements.txt").read_text().lower()
    assert "fastapi" not in requirements
    assert "mangum" not in requirements
