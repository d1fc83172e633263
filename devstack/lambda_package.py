"""Build the Lambda package the way it is deployed, from nothing but requirements.txt.

1. A fresh virtualenv whose site-packages holds exactly the pinned runtime requirements,
   installed as manylinux2014 x86_64 wheels for CPython 3.11: the binaries Lambda's
   python3.11 runtime (Amazon Linux 2, glibc 2.26) can load, whatever this machine is.
2. `collectstatic` with that virtualenv, so whitenoise serves the admin's files from the
   package.
3. `zappa package <stage>` with that virtualenv active.
4. Bytecode for every module, added to the zip: Lambda's /var/task is read-only, so
   without it each cold start would compile every module it imports, every time.

`use_precompiled_packages` is off in zappa_settings.json: step 1 already chose the wheels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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


def build_package(
    stage: str,
    output: Path,
    work_dir: Path,
    *,
    project: Path = PROJECT,
    requirements: Path | None = None,
    constraints: Path | None = None,
    collect_static: bool = True,
) -> Package:
    """Build the Zappa zip for `stage` at `output`, using `work_dir` for the virtualenv.

    By default: this project, its fully pinned requirements.txt (installed as is, no
    resolution). The benchmark packages a bare Django project the same way, resolving its
    short requirements under `constraints` (our pins).
    """
    if work_dir.resolve().is_relative_to(project.resolve()):
        # `zappa package` walks the project: a virtualenv in it is taken for project code.
        raise ValueError(f"build {project.name} outside it, not in {work_dir}")
    requirements = requirements or project / "requirements.txt"
    resolve = ["-c", str(constraints)] if constraints else ["--no-deps"]
    venv = work_dir / "package-venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = venv / "lib" / f"python{PYTHON_VERSION}" / "site-packages"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # A few pure-Python requirements publish only source archives: build those into
    # (platform-independent) wheels first, so the install below can insist on wheels.
    wheels = work_dir / "wheels"
    subprocess.run(
        [*pip, "wheel", *resolve, "--wheel-dir", str(wheels), "-r", str(requirements)],
        check=True,
    )
    subprocess.run(
        [
            *pip,
            "install",
            *resolve,
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
            str(requirements),
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
    if collect_static:
        shutil.rmtree(project / "staticfiles", ignore_errors=True)
        subprocess.run(
            [str(python), "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=project,
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
        cwd=project,
        env=env,
        check=True,
    )
    add_bytecode(output)
    with zipfile.ZipFile(output) as archive:
        infos = archive.infolist()
    return Package(
        path=output,
        zipped_bytes=output.stat().st_size,
        unzipped_bytes=sum(info.file_size for info in infos),
        files=len(infos),
    )


def add_bytecode(archive_path: Path) -> None:
    """Compile the package's modules into it (unchecked-hash .pyc: valid whatever the
    timestamps the zip gives its files; tracebacks name /var/task paths)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "package"
        with zipfile.ZipFile(archive_path) as archive:
            archive.extractall(root)
        # Exit status ignored: a library's stray file that does not compile (a template, a
        # Python 2 example) was never importable anyway.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                "-d",
                "/var/task",
                str(root),
            ],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(root).as_posix())
                info.create_system = 3  # unix, so the permissions below apply
                info.external_attr = 0o755 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)


def describe(package: Package) -> str:
    mib = 1024 * 1024
    return (
        f"{package.path}: {package.zipped_bytes / mib:.1f} MiB zipped, "
        f"{package.unzipped_bytes / mib:.1f} MiB unzipped ({package.files:,} files; "
        "Lambda allows 250 MiB unzipped)"
    )
