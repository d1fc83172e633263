from __future__ import annotations

import logging

import pytest

from scoreportal.logging import JsonFormatter, redact

KEY = "Abcd1234." + "x" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("cpf 52998224725 here", "cpf [REDACTED-CPF] here", id="bare"),
        pytest.param("cpf=529.982.247-25&x", "cpf=[REDACTED-CPF]&x", id="formatted"),
        pytest.param("/scores/529982247-25/", "/scores/[REDACTED-CPF]/", id="partly-formatted"),
        pytest.param(f"Api-Key {KEY}", "Api-Key [REDACTED-API-KEY]", id="api-key"),
        pytest.param(
            "epoch 1763800000 ms 1763800000123",
            "epoch 1763800000 ms 1763800000123",
            id="other-numbers",
        ),
        pytest.param("id 5299822472", "id 5299822472", id="ten-digits"),
        pytest.param(
            "request 0f6f2a3c-5a07-4b8e-9c1e-052998224725 failed",
            "request 0f6f2a3c-5a07-4b8e-9c1e-052998224725 failed",
            id="uuid-with-eleven-digits",
        ),
        pytest.param(
            "request 0f6f2a3c-5a07-4b8e-9c1e-e52998224725, cpf 52998224725",
            "request 0f6f2a3c-5a07-4b8e-9c1e-e52998224725, cpf [REDACTED-CPF]",
            id="uuid-next-to-a-cpf",
        ),
    ],
)
def test_if_text_holds_a_cpf_or_key_then_redact_masks_it(text, expected):
    assert redact(text) == expected


def test_if_a_record_is_formatted_then_it_is_one_redacted_json_line():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "saw %s", ("52998224725",), None)
    record.fields = {"status": 400, "key": KEY}

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "52998224725" not in line
    assert KEY not in line
    assert '"status": 400' in line


def test_if_an_exception_is_logged_then_its_traceback_is_redacted_too():
    try:
        raise ValueError("bad cpf 529.982.247-25")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    line = JsonFormatter().format(record)

    assert "ValueError" in line
    assert "529.982.247-25" not in line


def test_if_many_request_ids_are_logged_then_none_is_damaged():
    import uuid

    ids = [str(uuid.uuid4()) for _ in range(5000)]
    ids += ["12345678-1234-4234-8234-012345678901", "00000000-0000-4000-8000-052998224725"]

    assert [redact(f"request {request_id}") for request_id in ids] == [
        f"request {request_id}" for request_id in ids
    ]
