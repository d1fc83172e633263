"""Cold start and per-invocation cost through the Lambda handler: ours, the seed's, bare Django.

Every package is built the same way (devstack.lambda_package: clean virtualenv, manylinux
wheels, what the function never loads left out, bytecode) and run the same way
(devstack/lambda_invoke.py in a bare interpreter inside the unzipped package). Ours and the
bare project go through `zappa package`; the bare project is `django-admin startproject`
with DEBUG off and any host allowed, its first request the admin login page. The seed's
service (bench/anchor/handler.py: FastAPI, Mangum, one GetItem) is its dependencies and
its handler module, zipped.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.lambda_invoke import invoke_fresh_process
from devstack.lambda_package import (
    PROJECT,
    Package,
    build_package,
    install_for_lambda,
    zip_for_lambda,
)

ANCHOR = Path(__file__).resolve().parent / "anchor"

BARE_ZAPPA_SETTINGS = {
    "bench": {
        "project_name": "bare",
        "django_settings": "bare.settings",
        "runtime": "python3.11",
        "aws_region": "sa-east-1",
        "s3_bucket": "unused-bench-bucket",
        "use_precompiled_packages": False,
        "exclude": ["*.pyc"],
    }
}
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


@dataclass
class ColdStart:
    package: Package
    runs_seconds: list[float]  # process spawn to the first response
    init_seconds: list[float]  # of which the handler's import (Lambda's init phase)
    first_invocation_seconds: list[float]  # and the first invocation
    first_status: int

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.runs_seconds)

    @property
    def first_invocation_median_seconds(self) -> float:
        return statistics.median(self.first_invocation_seconds)

    def summary(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median_seconds, 3),
            "runs_s": [round(value, 3) for value in self.runs_seconds],
            "init_median_s": round(statistics.median(self.init_seconds), 3),
            "first_invocation_median_s": round(self.first_invocation_median_seconds, 4),
            "first_invocation_runs_s": [round(v, 4) for v in self.first_invocation_seconds],
            "first_status": self.first_status,
            "package_zipped_mib": round(self.package.zipped_bytes / 2**20, 1),
            "package_unzipped_mib": round(self.package.unzipped_bytes / 2**20, 1),
        }


def unzip(package: Package, directory: Path) -> Path:
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(directory)
    return directory


def build_bare_project(work: Path) -> Package:
    """`django-admin startproject bare`, packaged like ours."""
    project = work / "bare-project"
    project.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "bare", str(project)], check=True
    )
    settings = project / "bare" / "settings.py"
    text = settings.read_text()
    text = text.replace("DEBUG = True", "DEBUG = False").replace(
        "ALLOWED_HOSTS = []", 'ALLOWED_HOSTS = ["*"]'
    )
    settings.write_text(text)
    (project / "zappa_settings.json").write_text(json.dumps(BARE_ZAPPA_SETTINGS))
    requirements = project / "requirements.txt"
    requirements.write_text("django\nzappa\n")
    return build_package(
        "bench",
        work / "bare-bench.zip",
        work_dir=work / "bare-build",
        project=project,
        requirements=requirements,
        constraints=PROJECT / "requirements.txt",
        collect_static=False,
    )


def build_anchor(work: Path) -> Package:
    """The seed's service (bench/anchor/handler.py) as a Lambda zip: its requirements,
    resolved under our development pins, and the handler module at the root."""
    root = work / "anchor-package"
    install_for_lambda(
        ANCHOR / "requirements.txt",
        root,
        work,
        constraints=PROJECT / "requirements-dev.txt",
    )
    shutil.copyfile(ANCHOR / "handler.py", root / "handler.py")
    return zip_for_lambda(root, work / "anchor.zip")


def measure(
    package: Package,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    runs: int = 5,
) -> ColdStart:
    package_dir = unzip(package, work / "unzipped")
    runs_done = [invoke_fresh_process(package_dir, events, environment, work) for _ in range(runs)]
    statuses = {run.responses[0]["statusCode"] for run in runs_done}
    if statuses != {200}:
        raise RuntimeError(f"{package.path.name}: first answers {statuses}, not 200")
    return ColdStart(
        package,
        runs_seconds=[run.first_response_seconds for run in runs_done],
        init_seconds=[run.init_seconds for run in runs_done],
        first_invocation_seconds=[run.invocation_seconds[0] for run in runs_done],
        first_status=200,
    )


def warm_cpu_ms(
    package_dir: Path,
    environment: dict[str, str],
    event: dict[str, Any],
    work: Path,
    invocations: int = 300,
    warm_up: int = 20,
) -> float:
    """The process's CPU per warm invocation (ms): `event` `invocations` times in one
    fresh process, the first `warm_up` not counted; CPU time of all its threads, read in
    the process around each call (devstack/lambda_invoke.py)."""
    run = invoke_fresh_process(package_dir, [event] * invocations, environment, work)
    statuses = {response["statusCode"] for response in run.responses}
    if statuses != {200}:
        raise RuntimeError(f"warm invocations answered {statuses}")
    counted = run.invocation_cpu_seconds[warm_up:]
    return 1000 * sum(counted) / len(counted)


def import_breakdown(
    package: Package,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    top: int = 10,
) -> list[dict[str, Any]]:
    """Import time by top-level package (self time summed), largest first."""
    package_dir = work / "unzipped"
    run = invoke_fresh_process(
        package_dir, events, environment, work, python_flags=("-X", "importtime")
    )
    self_us: Counter[str] = Counter()
    for line in run.log.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            self_us[match[4].split(".")[0]] += int(match[1])
    return [
        {"package": name, "self_ms": round(micros / 1000, 1)}
        for name, micros in self_us.most_common(top)
    ]
