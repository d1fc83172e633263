"""What a partner's first call gets when the key is sent the wrong way."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from scoreportal.error_codes import ErrorCode
from scores.tests.fixtures import EXAMPLE_CPF

pytestmark = pytest.mark.usefixtures("score_table")


def score(**headers):
    return APIClient().generic(
        "POST",
        "/api/v1/scores",
        json.dumps({"cpf": EXAMPLE_CPF}),
        content_type="application/json",
        **headers,
    )


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(lambda key: f"Bearer {key}", id="bearer"),
        pytest.param(lambda key: f"Token {key}", id="token"),
        pytest.param(lambda key: key, id="the-key-alone"),
        pytest.param(lambda key: "Api-Key", id="api-key-without-a-key"),
    ],
)
def test_if_the_authorization_header_holds_no_api_key_then_the_answer_names_the_scheme(
    api_key, authorization
):
    _, plaintext = api_key

    response = score(HTTP_AUTHORIZATION=authorization(plaintext))

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == ErrorCode.MISSING_API_KEY
    assert "'Authorization: Api-Key <key>'" in error["message"]
    assert "scheme" in error["message"]
    assert plaintext.split(".")[1] not in error["message"]
    assert response["WWW-Authenticate"] == "Api-Key"


def test_if_no_header_is_sent_then_the_message_is_the_documented_one(db):
    response = score()

    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "No API key was sent. Send it as 'Authorization: Api-Key <key>' or 'X-Api-Key: <key>'."
    )


def test_if_a_bearer_header_comes_with_an_x_api_key_then_the_x_api_key_is_used(
    api_key, make_profile
):
    make_profile(EXAMPLE_CPF)
    _, plaintext = api_key

    response = score(HTTP_AUTHORIZATION="Bearer something-else", HTTP_X_API_KEY=plaintext)

    assert response.status_code == 200
