"""What schemathesis needs to know about this API beyond its schema
(scores/tests/api/schemathesis.toml names this module): how to make a valid CPF, and the
promises every answer keeps.

Loaded by the schemathesis command, in its own process; it imports only modules that need
no Django settings (the CPF module and the error vocabulary).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import schemathesis
from hypothesis import strategies as st

from scoreportal.api.errors import ERROR_STATUS_AND_MESSAGE
from scores.core.cpf import Cpf, InvalidCpf

_STATUS_OF_CODE = {code.value: status for code, (status, _) in ERROR_STATUS_AND_MESSAGE.items()}


def _valid_cpf(base: str, formatted: bool) -> str | None:
    try:
        cpf = Cpf.from_base(base)
    except InvalidCpf:  # a single repeated digit has no valid CPF
        return None
    return cpf.formatted if formatted else cpf.digits


# `format: cpf` in the schema: a valid CPF, bare or formatted. Check digits are beyond what a
# JSON Schema pattern can say, so without this every generated CPF but a lucky one is refused.
schemathesis.openapi.format(
    "cpf",
    st.builds(
        _valid_cpf, st.text(alphabet="0123456789", min_size=9, max_size=9), st.booleans()
    ).filter(lambda value: value is not None),
)


@schemathesis.check
def error_envelope(ctx: Any, response: Any, case: Any) -> None:
    """Every answer has an X-Request-ID and says `Cache-Control: no-store`; every error is
    the error envelope, whose code is one answered with this status, and whose request id
    is the answer's."""
    request_id = response.headers.get("x-request-id", [""])[0]
    uuid.UUID(request_id)  # raises ValueError: not a request id of ours
    if response.headers.get("cache-control") != ["no-store"]:
        raise AssertionError(f"Cache-Control is {response.headers.get('cache-control')}")
    if response.status_code < 400 or _is_health_report(case, response):
        return
    body = json.loads(response.content)
    if set(body) != {"error"} or set(body["error"]) != {"code", "message", "request_id"}:
        raise AssertionError(f"not the error envelope: {body}")
    code = body["error"]["code"]
    if _STATUS_OF_CODE.get(code) != response.status_code:
        raise AssertionError(f"{code} answered with {response.status_code}")
    if body["error"]["request_id"] != request_id:
        raise AssertionError("the envelope's request_id is not the X-Request-ID")


def _is_health_report(case: Any, response: Any) -> bool:
    """Health's 503 is its own report (the database is down), not an error envelope."""
    return bool(case.operation.path == "/api/v1/health" and response.status_code == 503)


@schemathesis.check
class EveryOperationSucceeds:
    """Each operation answered 2xx at least once: the run reached past the refusals."""

    def __init__(self) -> None:
        self.tested: set[str] = set()
        self.succeeded: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        self.tested.add(case.operation.label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx: Any) -> None:
        never = sorted(self.tested - self.succeeded)
        if never:
            raise AssertionError(f"never answered 2xx: {', '.join(never)}")
