"""Cold start: fresh process to first 200 through the Zappa handler, ours next to bare Django.

Both packages are built the same way (devstack.lambda_package: clean virtualenv, manylinux
wheels, `zappa package`) and run the same way (devstack/lambda_invoke.py in a bare
interpreter inside the unzipped package). The bare project is `django-admin startproject`
with DEBUG off and any host allowed; its first request is the admin login page.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.lambda_invoke import invoke_fresh_process
from devstack.lambda_package import PROJECT, Package, build_package

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
    runs_seconds: list[float]
    init_seconds: list[float]
    first_status: int

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.runs_seconds)

    def summary(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median_seconds, 3),
            "runs_s": [round(value, 3) for value in self.runs_seconds],
            "init_median_s": round(statistics.median(self.init_seconds), 3),
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


def measure(
    package: Package,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    runs: int = 5,
) -> ColdStart:
    package_dir = unzip(package, work / "unzipped")
    runs_done = [invoke_fresh_process(package_dir, events, environment, work) for _ in range(runs)]
    return ColdStart(
        package,
        runs_seconds=[run.first_response_seconds for run in runs_done],
        init_seconds=[run.init_seconds for run in runs_done],
        first_status=runs_done[0].responses[0]["statusCode"],
    )


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
