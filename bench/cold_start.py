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
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.lambda_package import PROJECT, Package, build_package

INVOKE = PROJECT / "devstack" / "lambda_invoke.py"
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


def run_once(
    package_dir: Path,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    *,
    importtime: bool = False,
) -> tuple[dict[str, Any], float, str]:
    """One fresh process; returns (results, seconds from spawn to first response, stderr)."""
    events_path, results_path = work / "events.json", work / "results.json"
    events_path.write_text(json.dumps(events))
    flags = ["-X", "importtime"] if importtime else []
    spawned = time.time()
    process = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            *flags,
            str(INVOKE),
            str(package_dir),
            str(events_path),
            str(results_path),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if process.returncode != 0:
        raise RuntimeError(f"invocation failed:\n{process.stderr[-3000:]}")
    results = json.loads(results_path.read_text())
    return results, results["results"][0]["finished_at"] - spawned, process.stderr


def measure(
    package: Package,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    runs: int = 5,
) -> ColdStart:
    package_dir = unzip(package, work / "unzipped")
    seconds, init, statuses = [], [], []
    for _ in range(runs):
        results, elapsed, _ = run_once(package_dir, environment, events, work)
        seconds.append(elapsed)
        init.append(results["init_seconds"])
        statuses.append(results["results"][0]["response"]["statusCode"])
    return ColdStart(package, seconds, init, first_status=statuses[0])


def import_breakdown(
    package: Package,
    environment: dict[str, str],
    events: list[dict[str, Any]],
    work: Path,
    top: int = 10,
) -> list[dict[str, Any]]:
    """Import time by top-level package (self time summed), largest first."""
    package_dir = work / "unzipped"
    _, _, stderr = run_once(package_dir, environment, events, work, importtime=True)
    self_us: Counter[str] = Counter()
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            self_us[match[4].split(".")[0]] += int(match[1])
    return [
        {"package": name, "self_ms": round(micros / 1000, 1)}
        for name, micros in self_us.most_common(top)
    ]
