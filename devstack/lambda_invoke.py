"""Invoke an unzipped Lambda package's handler the way the Lambda runtime does.

Run it with a bare interpreter inside the package directory, so that only the package's
own code and libraries are importable (as on Lambda, where the package is /var/task):

    python -I -S -B devstack/lambda_invoke.py PACKAGE_DIR EVENTS.json RESULTS.json

It imports `handler` (the module Zappa generated) during "init", then calls
`handler.lambda_handler(event, context)` for each event of the JSON list in EVENTS.json,
and writes {"init_seconds", "results": [{"response", "seconds", "cpu_seconds"}]} to
RESULTS.json (`cpu_seconds`: the process's CPU time during the call, all its threads;
stdout and stderr are the function's log, as on Lambda). Standard library only: nothing of
ours is importable from here but the package. -B: /var/task is read-only on Lambda, so no
bytecode may be cached between runs beyond what the package ships.

`WarmFunction` keeps one such interpreter running and hands it events one at a time, so
that each event can be built from the answers to the previous ones (a browser's cookies
and forms), as a warm Lambda instance serves one request after another.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

STARTED = time.perf_counter()


class LambdaContext:
    """The attributes of the context object the Lambda runtime passes."""

    function_name = "scoreportal-dev"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:sa-east-1:123456789012:function:scoreportal-dev"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/scoreportal-dev"
    log_stream_name = "2026/11/22/[$LATEST]local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 29

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


API_ID = "abc123defg"
API_HOST = f"{API_ID}.execute-api.sa-east-1.amazonaws.com"
SOURCE_IP = "203.0.113.7"
# What API Gateway adds to every request it proxies.
FORWARDED_HEADERS = {
    "X-Forwarded-For": SOURCE_IP,
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    stage: str = "dev",
    query: str = "",
) -> dict[str, Any]:
    """An API Gateway REST API (payload v1) proxy event, as its stage URL delivers it.

    `query` is the query string as the client wrote it; API Gateway delivers it decoded.
    """
    headers = {"Host": API_HOST, **FORWARDED_HEADERS, **(headers or {})}
    parameters: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        parameters.setdefault(name, []).append(value)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {n: v[-1] for n, v in parameters.items()} or None,
        "multiValueQueryStringParameters": parameters or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": API_ID,
            "identity": {"sourceIp": SOURCE_IP, "userAgent": "lambda-invoke"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    stage: str = "dev",
    query: str = "",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, as its stage URL delivers it.

    `query` is the query string as the client wrote it (HTTP APIs pass it on raw); a
    Cookie header is delivered as the event's `cookies`, as HTTP APIs do.
    """
    raw_path = f"/{stage}{path}"
    headers = {  # HTTP APIs deliver header names in lower case
        name.lower(): value
        for name, value in {"Host": API_HOST, **FORWARDED_HEADERS, **(headers or {})}.items()
    }
    cookie = headers.pop("cookie", "")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        **({"cookies": cookie.split("; ")} if cookie else {}),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": API_HOST,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "lambda-invoke",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage,
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795341600000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass
class Invocation:
    """What a fresh process made of some events."""

    responses: list[dict[str, Any]]
    init_seconds: float  # interpreter start to `import handler` done
    first_response_seconds: float  # process spawn to the first response
    log: str  # the function's stdout and stderr
    invocation_seconds: list[float]  # each event's handler call, wall time
    invocation_cpu_seconds: list[float]  # the same, the process's CPU time (all threads)


def invoke_fresh_process(
    package_dir: Path,
    events: list[dict[str, Any]],
    environment: dict[str, str],
    work_dir: Path,
    *,
    python_flags: tuple[str, ...] = (),
) -> Invocation:
    """Run `events` through the package's handler in a new bare interpreter: a cold start.

    -I -S: nothing importable but the standard library and the package; -B: no bytecode
    written, as on Lambda's read-only /var/task.
    """
    events_path, results_path = work_dir / "events.json", work_dir / "results.json"
    events_path.write_text(json.dumps(events), encoding="utf-8")
    spawned = time.time()
    process = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            *python_flags,
            __file__,
            str(package_dir),
            str(events_path),
            str(results_path),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"the invocation failed:\n{process.stderr[-3000:]}")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    return Invocation(
        responses=[result["response"] for result in results["results"]],
        init_seconds=results["init_seconds"],
        first_response_seconds=results["results"][0]["finished_at"] - spawned,
        log=process.stdout + process.stderr,
        invocation_seconds=[result["seconds"] for result in results["results"]],
        invocation_cpu_seconds=[result["cpu_seconds"] for result in results["results"]],
    )


class WarmFunction:
    """One warm instance of the packaged function: a bare interpreter that imports the
    handler once, then runs each event `invoke` sends it, one at a time.

    What the function writes to stdout and stderr goes to one file, in order, as Lambda
    sends both to the function's log stream: `log` reads it. Use it as a context manager.
    """

    def __init__(self, package_dir: Path, environment: dict[str, str], work_dir: Path) -> None:
        self.log_path = work_dir / "function.log"
        self.invocations = 0
        answers, answers_fd = os.pipe()
        log_file = self.log_path.open("w", encoding="utf-8")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-B",
                "-u",  # as Lambda's runtime: what the function prints reaches the log at once
                __file__,
                "--serve",
                str(package_dir),
                str(answers_fd),
            ],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(answers_fd,),
            text=True,
        )
        log_file.close()
        os.close(answers_fd)
        self._answers: TextIO = os.fdopen(answers, encoding="utf-8")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler's answer to `event`."""
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(event) + "\n")
        stdin.flush()
        line = self._answers.readline()
        if not line:
            self._process.wait(timeout=30)
            raise RuntimeError(f"the function stopped:\n{self.log[-3000:]}")
        self.invocations += 1
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def log(self) -> str:
        """Everything the function wrote so far."""
        return self.log_path.read_text(encoding="utf-8")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        finally:
            self._answers.close()

    def __enter__(self) -> "WarmFunction":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _package_handler(package_dir: str) -> Any:
    """The package's `handler` module, imported from the package as Lambda's init does
    (Django starts)."""
    os.chdir(package_dir)
    sys.path.insert(0, package_dir)
    import handler  # type: ignore[import-not-found]  # the package's

    return handler


def serve(package_dir: str, answers_fd: str) -> None:
    """The other end of WarmFunction: an event per line of stdin, an answer per line."""
    handler = _package_handler(package_dir)
    with os.fdopen(int(answers_fd), "w", encoding="utf-8") as answers:
        for line in sys.stdin:
            response = handler.lambda_handler(json.loads(line), LambdaContext())
            answers.write(json.dumps(response) + "\n")
            answers.flush()


def main(package_dir: str, events_path: str, results_path: str) -> None:
    events = json.loads(Path(events_path).read_text(encoding="utf-8"))
    handler = _package_handler(package_dir)
    init_seconds = time.perf_counter() - STARTED
    results = []
    for event in events:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = handler.lambda_handler(event, LambdaContext())
        results.append(
            {
                "response": response,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,
                "finished_at": time.time(),  # wall clock, for timing from process spawn
            }
        )
    Path(results_path).write_text(
        json.dumps({"init_seconds": init_seconds, "results": results}), encoding="utf-8"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(*sys.argv[2:4])
    else:
        main(*sys.argv[1:4])
