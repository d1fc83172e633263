"""Build the Lambda package the way it is deployed, from nothing but requirements.txt.

1. A fresh virtualenv whose site-packages holds exactly the pinned runtime requirements,
   installed as manylinux2014 x86_64 wheels for CPython 3.11: the binaries Lambda's
   python3.11 runtime (Amazon Linux 2, glibc 2.26) can load, whatever this machine is.
2. `collectstatic` with that virtualenv, so whitenoise serves the admin's files from the
   package.
3. `zappa package <stage>` with that virtualenv active.

`use_precompiled_packages` is off in zappa_settings.json: step 1 already chose the wheels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"
PLATFORM = "manylinux2014_x86_64"


@dataclass(frozen=True)
class Package:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int


def build_package(stage: str, output: Path, work_dir: Path) -> Package:
    """Build the Zappa zip for `stage` at `output`, using `work_dir` for the virtualenv."""
    venv = work_dir / "package-venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = venv / "lib" / f"python{PYTHON_VERSION}" / "site-packages"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    requirements = str(PROJECT / "requirements.txt")
    # A few pure-Python requirements publish only source archives: build those into
    # (platform-independent) wheels first, so the install below can insist on wheels.
    wheels = work_dir / "wheels"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), "-r", requirements], check=True
    )
    subprocess.run(
        [
            *pip,
            "install",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--find-links",
            str(wheels),
            "--target",
            str(site_packages),
            "-r",
            requirements,
        ],
        check=True,
    )
    python = venv / "bin" / "python"
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        # collectstatic reads the settings but needs no secret and no database.
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "scoreportal.settings",
    }
    env.pop("PYTHONPATH", None)
    static_root = PROJECT / "staticfiles"
    shutil.rmtree(static_root, ignore_errors=True)
    subprocess.run(
        [str(python), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=PROJECT,
        env=env,
        check=True,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    subprocess.run(
        [
            str(python),
            "-c",
            "from zappa.cli import handle; handle()",
            "package",
            stage,
            "--output",
            str(output),
        ],
        cwd=PROJECT,
        env=env,
        check=True,
    )
    with zipfile.ZipFile(output) as archive:
        infos = archive.infolist()
    return Package(
        path=output,
        zipped_bytes=output.stat().st_size,
        unzipped_bytes=sum(info.file_size for info in infos),
        files=len(infos),
    )


def describe(package: Package) -> str:
    mib = 1024 * 1024
    return (
        f"{package.path}: {package.zipped_bytes / mib:.1f} MiB zipped, "
        f"{package.unzipped_bytes / mib:.1f} MiB unzipped ({package.files:,} files; "
        "Lambda allows 250 MiB unzipped)"
    )
