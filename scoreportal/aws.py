"""A small client for AWS's JSON protocol: the DynamoDB and Secrets Manager calls we make.

Why not boto3's clients: on the score path they are the largest cost that is ours to cut.
Creating one parses service models and endpoint rules (about 40 ms of every Lambda cold
start, twice: DynamoDB and Secrets Manager), and each call runs botocore's generic
pipeline (about 0.9 ms of CPU per GetItem, more than the rest of a cached request). This
client sends the same request: a POST of a JSON body with X-Amz-Target, signed with
Signature Version 4 (tests compare its signatures with botocore's), over a keep-alive
http.client connection per thread (urllib3's pool costs more CPU than the whole signing).
Credentials come from the environment (how Lambda provides them) or, elsewhere, from
botocore's credential chain.

Failures raise `AwsError`; `AwsError.code` is AWS's error code (ConditionalCheckFailed-
Exception, ResourceNotFoundException, ...) or "ConnectionError" when no answer came.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# Server-side conditions worth another attempt (besides 5xx and no answer at all).
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class AwsError(Exception):
    """An AWS call that failed; `code` is AWS's error code or "ConnectionError"."""

    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def current_credentials() -> Credentials:
    """The environment's credentials (Lambda sets them), else botocore's provider chain."""
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        return Credentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN") or None)
    return _botocore_credentials()


def _botocore_credentials() -> Credentials:
    """Profiles, container and instance roles: botocore resolves and refreshes them."""
    global _provider
    if _provider is None:
        import botocore.session

        _provider = botocore.session.get_session().get_credentials()
        if _provider is None:
            raise AwsError("NoCredentials", "no AWS credentials found")
    frozen = _provider.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


_provider: Any = None


class JsonProtocolClient:
    """Calls one AWS service's JSON-protocol API (`call("GetItem", {...})`).

    Thread-safe. At most `max_attempts` tries per call, each bounded by the connect and
    read timeouts; retries only on no answer, 5xx and throttling.
    """

    def __init__(
        self,
        *,
        service: str,
        target_prefix: str,
        json_version: str,
        region: str,
        endpoint_url: str | None = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        max_attempts: int = 3,
    ) -> None:
        self.service = service
        self.region = region
        self.target_prefix = target_prefix
        self.content_type = f"application/x-amz-json-{json_version}"
        url = (
            endpoint_url
            or _endpoint_from_environment(service)
            or (f"https://{service}.{region}.amazonaws.com")
        )
        parts = urlsplit(url)
        self.url = f"{parts.scheme}://{parts.netloc}/"
        self._https = parts.scheme == "https"
        default_port = 443 if self._https else 80
        self._address = (parts.hostname or "", parts.port or default_port)
        # SigV4 signs the Host header as sent: with the port only when it is not the default.
        self.host = parts.netloc if parts.port not in (None, default_port) else parts.hostname or ""
        self.max_attempts = max(1, max_attempts)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()
        self._tls = ssl.create_default_context() if self._https else None
        self._keys: dict[tuple[str, str], bytes] = {}
        self._keys_lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(operation)` before every call (metrics; the tests count calls)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str], None]) -> None:
        self._listeners.remove(listener)

    def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        for listener in self._listeners:
            listener(operation)
        body = json.dumps(payload, separators=(",", ":")).encode()
        error = AwsError("ConnectionError", "no attempt made")
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(random.uniform(0, 0.025 * 2**attempt))  # noqa: S311 (jitter)
            try:
                status, data = self._post(body, self.signed_headers(operation, body))
            except (OSError, http.client.HTTPException) as exc:
                error = AwsError("ConnectionError", type(exc).__name__)
                continue
            if status == 200:
                return json.loads(data) if data else {}
            error = _error_from(status, data)
            if status < 500 and error.code not in _RETRYABLE_CODES:
                break
        raise error

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST on this thread's kept-alive connection; a connection the server dropped
        while idle is replaced once without counting as an attempt."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        for reused in (connection is not None, False):
            if connection is None:
                connection = self._connect()
            try:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = self._local.connection = None
                if reused:
                    continue
                raise
            if response.will_close:
                connection.close()
                connection = None
            self._local.connection = connection
            return response.status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._address
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(self.read_timeout)
        return connection

    def signed_headers(
        self, operation: str, body: bytes, now: datetime | None = None
    ) -> dict[str, str]:
        """The request's headers, signed with AWS Signature Version 4."""
        credentials = current_credentials()
        amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        headers = {
            "content-type": self.content_type,
            "host": self.host,
            "x-amz-date": amz_date,
            "x-amz-target": f"{self.target_prefix}.{operation}",
        }
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        names = sorted(headers)
        signed_names = ";".join(names)
        canonical_request = "\n".join(
            [
                "POST",
                "/",
                "",
                "".join(f"{name}:{headers[name]}\n" for name in names),
                signed_names,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return headers

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        """The derived key changes once a day (or with the credentials): computed once."""
        cache_key = (secret_key, day)
        key = self._keys.get(cache_key)
        if key is None:
            key = f"AWS4{secret_key}".encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            with self._keys_lock:
                self._keys = {cache_key: key}  # only the current one is worth keeping
        return key


def _endpoint_from_environment(service: str) -> str | None:
    """botocore's convention: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL."""
    specific = f"AWS_ENDPOINT_URL_{_SERVICE_IDS.get(service, service).upper().replace(' ', '_')}"
    return os.environ.get(specific) or os.environ.get("AWS_ENDPOINT_URL")


_SERVICE_IDS = {"secretsmanager": "Secrets Manager", "dynamodb": "DynamoDB"}


def _error_from(status: int, body: bytes) -> AwsError:
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = str(data.get("__type") or "HttpError").rsplit("#", 1)[-1].split(":", 1)[0]
    message = str(data.get("message") or data.get("Message") or "")
    return AwsError(code, message, status)
