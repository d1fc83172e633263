"""The API fuzzed from its own OpenAPI schema, served by gunicorn (schemathesis).

Every operation /api/schema lists is called with what schemathesis derives from the schema:
its examples, then its coverage cases (boundaries, missing fields, wrong types, unknown
fields, other methods, no key), then generated bodies that the schema allows and that it
forbids. Every answer must be no 5xx, a status the operation documents with the content type,
headers and body it documents; a body the schema allows must be accepted and one it forbids
refused; every error is the envelope with a code of its status (scores/tests/
schemathesis_hooks.py). The configuration is scores/tests/api/schemathesis.toml: a fixed seed,
derandomized, a bounded number of examples.

The server is the real application under gunicorn on the test stores, called over HTTP by
the schemathesis command in a process of its own, as a client would. The key holds both
scopes and limits no run can reach: no answer is decided by the rate limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.constants import Scope
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROJECT = Path(__file__).resolve().parents[3]
CONFIG = Path(__file__).with_name("schemathesis.toml")
UNREACHABLE_LIMIT = 1_000_000_000


def test_if_the_api_is_fuzzed_from_its_schema_then_every_answer_keeps_the_schema(
    start_servers, issue_key, make_profile
):
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF):
        make_profile(cpf)
    _, plaintext = issue_key(
        scopes=[Scope.SCORES_READ, Scope.SCORES_BATCH],
        rate_limit_per_minute=UNREACHABLE_LIMIT,
        daily_quota=UNREACHABLE_LIMIT,
    )
    (server,) = start_servers(1)

    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(CONFIG),
            "--no-color",
            "run",
            f"{server.url}/api/schema",
        ],
        env={**os.environ, "SCHEMATHESIS_API_KEY": plaintext},
        cwd=PROJECT,  # where the hooks module is imported from
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "4 selected / 4 total" in report, report
    assert plaintext.split(".")[1] not in report  # schemathesis masks the key it sends
