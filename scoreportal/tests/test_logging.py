from __future__ import annotations

import logging

import pytest

from scoreportal.logging import JsonFormatter, redact

KEY = "Abcd1234." + "x" * 32
RESET_TOKEN = "dj7exk-0f68bb679c0a9a3f4e6d3a03d0ea7677"
FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})


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
        # Spellings that only read as a CPF once decoded: the text comes back decoded.
        pytest.param("?q=%0952998224725", "?q=\t[REDACTED-CPF]", id="percent-tab"),
        pytest.param("?q=%C2%A0529.982.247-25", "?q= [REDACTED-CPF]", id="percent-nbsp"),
        pytest.param("?q=529+982+247+25", "?q=[REDACTED-CPF]", id="plus-signs"),
        pytest.param("?q=%2535%2532%2539.982.247-25", "?q=[REDACTED-CPF]", id="encoded-twice"),
        pytest.param("/scores/5299822\\xa04725", "/scores/[REDACTED-CPF]", id="python-escape"),
        pytest.param("cpf \\u00a0529.982.247-25", "cpf  [REDACTED-CPF]", id="json-escape"),
        pytest.param("&#160;529.982.247-25", "&#160;[REDACTED-CPF]", id="html-entity"),
        pytest.param("cpf &#53;29.982.247-25", "cpf [REDACTED-CPF]", id="html-digit"),
        pytest.param("529.982.247-25".translate(FULL_WIDTH), "[REDACTED-CPF]", id="full-width"),
        # Spellings a person types.
        pytest.param("529-982-247-25", "[REDACTED-CPF]", id="dashes"),
        pytest.param("529 982 247 25", "[REDACTED-CPF]", id="spaces"),
        pytest.param("\t529\xa0982\xa0247\t25", "\t[REDACTED-CPF]", id="tabs-and-nbsp"),
        pytest.param("5 2 9 9 8 2 2 4 7 2 5", "[REDACTED-CPF]", id="spaced-digits"),
        pytest.param("cpf:52998224725;", "cpf:[REDACTED-CPF];", id="surrounded"),
        pytest.param("x529.982.247-25x", "x[REDACTED-CPF]x", id="surrounded-by-letters"),
        # A password-set link's token, in the path links had or after a '#'.
        pytest.param(
            f"/admin/password-set/MTY/{RESET_TOKEN}/",
            "/admin/password-set/MTY/[REDACTED-TOKEN]/",
            id="reset-token-in-a-path",
        ),
        pytest.param(f"#MTY/{RESET_TOKEN}", "#MTY/[REDACTED-TOKEN]", id="reset-token-fragment"),
        pytest.param(
            f"key%20{KEY.replace('.', '%2E')}", "key [REDACTED-API-KEY]", id="encoded-api-key"
        ),
        # What stays as it is.
        pytest.param("100% sure + 2 & 3", "100% sure + 2 & 3", id="no-cpf-nothing-decoded"),
        pytest.param(
            "2026-12-07T09:48:56.627+00:00 [07/Dec/2026:09:48:56 +0000]",
            "2026-12-07T09:48:56.627+00:00 [07/Dec/2026:09:48:56 +0000]",
            id="times",
        ),
        pytest.param("cpf-abcdefghijklmnop", "cpf-abcdefghijklmnop", id="search-token"),
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


def test_if_a_record_holds_an_encoded_cpf_then_it_is_redacted_before_json_escapes_it():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "GET %s", ("/x?q=\xa0529.982.247-25",), None
    )
    record.fields = {"path": "/x?q=%C2%A0529.982.247-25", "nested": {"terms": ["\t52998224725"]}}

    line = JsonFormatter().format(record)

    assert "[REDACTED-CPF]" in line
    assert "982" not in line
    assert "\\u00a0529" not in line


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


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        pytest.param(
            "django.request", "Not Found: %s", ("/api/v1/scores/5299822{}4725",), id="request"
        ),
        pytest.param(
            "django.security.csrf",
            "Forbidden (%s): %s",
            ("CSRF token missing.", "/admin/password-set/MTY/{}/"),
            id="csrf",
        ),
        pytest.param(
            "django.server",
            '"%s" %s %s',
            ("GET /admin/scores/consultation/?q=529{}982 HTTP/1.1", "404", "0"),
            id="runserver",
        ),
    ],
)
def test_if_django_logs_a_request_s_path_then_the_line_names_no_path(
    rf, log_output, logger, message, args
):
    """Django's request, security and development-server records name the path; the
    filter in settings.LOGGING takes it out, whatever it holds (here a marker)."""
    marker = "zz-marker-zz"
    args = tuple(arg.format(marker) for arg in args)
    request = rf.get(args[-1] if logger != "django.server" else "/")

    logging.getLogger(logger).error(message, *args, extra={"request": request})

    (line,) = [entry for entry in log_output() if entry["logger"] == logger]
    assert marker not in line["message"]
    assert "[path]" in line["message"]


def test_if_the_request_s_path_matched_a_route_then_the_line_names_the_route(rf, log_output):
    """A 500's error line names the route that matched, not the address."""
    from django.urls import resolve

    request = rf.get("/api/v1/scores/")
    request.resolver_match = resolve(request.path)

    logging.getLogger("django.request").error(
        "Internal Server Error: %s", request.path, extra={"request": request}
    )

    (line,) = [entry for entry in log_output() if entry["logger"] == "django.request"]
    assert line["message"] == f"Internal Server Error: [{request.resolver_match.route}]"


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("zappa.wsgi", logging.INFO),  # Zappa's access log: path, query string, Referer
        ("handler", logging.INFO),  # Zappa's handler in the package: whole events at DEBUG
        ("botocore.endpoint", logging.INFO),  # every AWS request's body at DEBUG
        ("boto3", logging.INFO),
        ("urllib3.connectionpool", logging.INFO),
        ("werkzeug", logging.INFO),
        ("django.server", logging.INFO),  # runserver's access lines
        ("django.db.backends", logging.DEBUG),  # SQL and its parameters
    ],
)
def test_if_the_root_logger_is_at_debug_then_loggers_that_see_requests_still_write_nothing(
    name, level, settings
):
    """The levels in settings.LOGGING hold whatever level the root has (DJANGO_LOG_LEVEL,
    or the one Zappa's handler sets from the stage's log_level)."""
    from logging.config import dictConfig

    root = logging.getLogger()
    saved = root.level
    dictConfig({**settings.LOGGING, "root": {**settings.LOGGING["root"], "level": "DEBUG"}})
    try:
        assert not logging.getLogger(name).isEnabledFor(level)
    finally:
        dictConfig(settings.LOGGING)
        root.setLevel(saved)
