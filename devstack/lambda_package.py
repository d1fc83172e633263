"""Build the Lambda package the way it is deployed, from nothing but requirements.txt.

1. A fresh virtualenv whose site-packages holds exactly the pinned runtime requirements,
   installed as manylinux2014 x86_64 wheels for CPython 3.11: the binaries Lambda's
   python3.11 runtime (Amazon Linux 2, glibc 2.26) can load, whatever this machine is.
2. `collectstatic` with that virtualenv, so whitenoise serves the admin's files from the
   package.
3. `zappa package <stage>` with that virtualenv active.
4. What the function never loads taken out (NEVER_LOADED below, the one list of it), and
   bytecode for every module added: Lambda's /var/task is read-only, so without it each
   cold start would compile every module it imports, every time.

`use_precompiled_packages` is off in zappa_settings.json: step 1 already chose the wheels.
zappa_settings.json's `exclude` lists keep the repository's other files (tests, docs,
tooling) out of the copy Zappa makes of the project; what is left out of the libraries and
of the collected static files is here.
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

# The AWS services the function calls: DynamoDB, S3 and Secrets Manager ourselves; Lambda,
# SNS, STS (and DynamoDB) are the clients zappa.asynchronous creates when the import task
# imports it. botocore reads a service's model only when a client of it is created.
AWS_SERVICES = frozenset({"dynamodb", "s3", "secretsmanager", "lambda", "sns", "sts"})


@dataclass(frozen=True)
class Left:
    """Paths of the unzipped package (a glob from its root; a trailing / for directories)
    that the function never loads, but those named in `kept`."""

    glob: str
    kept: frozenset[str] = frozenset()


# Everything the package builder leaves out, and why. Each is checked by
# scoreportal/tests/test_lambda_package.py, which serves every kind of route and every
# static file its pages link through the packaged handler. (Unhashed copies of the static
# files are not here: collectstatic writes none, WHITENOISE_KEEP_ONLY_HASHED_FILES.)
NEVER_LOADED: tuple[Left, ...] = (
    # Every other AWS service's model and endpoint rules (botocore) and resource model
    # (boto3). The top-level files every client reads (endpoints, partitions,
    # sdk-default-configuration, _retry) stay.
    Left("botocore/data/*/", kept=AWS_SERVICES),
    Left("boto3/data/*/", kept=AWS_SERVICES),
    # gettext's sources: Django reads the compiled .mo catalogs beside them.
    Left("**/*.po"),
    # GeoDjango: not an installed app; what mentions it (drf-spectacular, django-environ)
    # imports it only for a geometry field or a PostGIS URL.
    Left("django/contrib/gis/"),
    # The apps' static sources: collectstatic copied them into staticfiles/, the only
    # directory WhiteNoise serves when DEBUG is off (no finders).
    Left("**/static/"),
    # Source maps: only a browser's developer tools ask for them.
    Left("staticfiles/**/*.map"),
    Left("staticfiles/**/*.map.gz"),
    # holidays: only a country's calendar is asked for (scores.core.business_days), never
    # a market's, and the holidays' names are never shown.
    Left("holidays/financial/"),
    Left("holidays/locale/"),
    # ReDoc: scoreportal/urls.py routes Swagger UI only.
    Left("staticfiles/drf_spectacular_sidecar/redoc/"),
    # DRF's browsable API: the API renders JSON only (REST_FRAMEWORK's renderers).
    Left("staticfiles/rest_framework/"),
    # Zappa's command line and its deploy-time libraries: the handler imports none of them.
    *(
        Left(name)
        for name in (
            "_distutils_hack/",
            "argcomplete/",
            "cfn_flip/",
            "charset_normalizer/",
            "distutils-precedence.pth",
            "hjson/",
            "pkg_resources/",
            "placebo/",
            "requests/",
            "setuptools/",
            "slugify/",
            "text_unidecode/",
            "toml/",
            "tqdm/",
            "troposphere/",
            "wheel/",
        )
    ),
)


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
    venv = work_dir / "package-venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install_for_lambda(
        requirements or project / "requirements.txt",
        venv / "lib" / f"python{PYTHON_VERSION}" / "site-packages",
        work_dir,
        constraints=constraints,
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
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "package"
        with zipfile.ZipFile(output) as archive:
            archive.extractall(root)
        return zip_for_lambda(root, output)


def install_for_lambda(
    requirements: Path, target: Path, work_dir: Path, *, constraints: Path | None = None
) -> None:
    """Install `requirements` into `target` as the wheels Lambda's python3.11 can load.

    Without `constraints` the requirements are installed as pinned (no resolution);
    with them, resolved under those pins.
    """
    resolve = ["-c", str(constraints)] if constraints else ["--no-deps"]
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
            str(target),
            "-r",
            str(requirements),
        ],
        check=True,
    )


def never_loaded(root: Path) -> dict[Path, Left]:
    """The files and directories under `root` (an unzipped package) that NEVER_LOADED
    leaves out, each with its rule."""
    found: dict[Path, Left] = {}
    for rule in NEVER_LOADED:
        for path in root.glob(rule.glob):
            if path.name not in rule.kept and not any(p in found for p in path.parents):
                found[path] = rule
    return found


def zip_for_lambda(root: Path, archive_path: Path) -> Package:
    """Zip the package laid out under `root` at `archive_path`, as it is deployed: without
    what the function never loads (NEVER_LOADED), with every module compiled
    (unchecked-hash .pyc: valid whatever the timestamps the zip gives its files;
    tracebacks name /var/task paths)."""
    for path in never_loaded(root):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
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
    unzipped_bytes = files = 0
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix())
            info.create_system = 3  # unix, so the permissions below apply
            info.external_attr = 0o755 << 16
            content = path.read_bytes()
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
            unzipped_bytes += len(content)
            files += 1
    return Package(archive_path, archive_path.stat().st_size, unzipped_bytes, files)


def describe(package: Package) -> str:
    mib = 1024 * 1024
    return (
        f"{package.path}: {package.zipped_bytes / mib:.1f} MiB zipped, "
        f"{package.unzipped_bytes / mib:.1f} MiB unzipped ({package.files:,} files; "
        "Lambda allows 250 MiB unzipped)"
    )
