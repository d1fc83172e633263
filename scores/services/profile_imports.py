"""Credit-profile imports as records: the admin's upload, check and confirm, run as a task in
steps, and the record `manage.py import_profiles` leaves.

The rows go through the one import engine (`credit_profiles_import`); this module adds what
a web request needs around it: the file kept where a later invocation reads it (the
operations bucket, or MEDIA_ROOT), a check before the import, and steps short enough for
Lambda's timeout, each a Zappa task. How: docs/credit-data.md, "Importing a file".
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urlencode

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from scoreportal import aws_clients
from scoreportal.steps import step_task_resume
from scores.exceptions import ImportNotConfirmable, ImportNotResumable, UploadNotRecognised
from scores.imports.profile_file import (
    MAX_LINE_BYTES,
    ProfileFileError,
    RowError,
    failure_text,
    line_too_long,
)
from scores.imports.seen_cpfs import seen_cpfs_forget
from scores.models import ProfileImport
from scores.services.profiles import ProfileImportReport, credit_profiles_import

logger = logging.getLogger(__name__)

IMPORTS_PREFIX = "imports/"
_READ_SIZE = 1024 * 1024
_S3_SCHEME = "s3://"


# ---------------------------------------------------------------------------------------
# Where uploaded files live
# ---------------------------------------------------------------------------------------
def _local_path(profile_import: ProfileImport) -> Path:
    return Path(settings.MEDIA_ROOT) / IMPORTS_PREFIX / f"{profile_import.pk}.csv"


def _stored(profile_import: ProfileImport, upload: IO[bytes]) -> tuple[str, str, int]:
    """Keep an upload the admin received under MEDIA_ROOT (only the owner may read it);
    its (location, SHA-256, size)."""
    digest = hashlib.sha256()
    size = 0
    path = _local_path(profile_import)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("wb") as file:
        path.chmod(0o600)
        for block in iter(lambda: upload.read(_READ_SIZE), b""):
            digest.update(block)
            size += len(block)
            file.write(block)
    return str(path), digest.hexdigest(), size


def _s3_object(location: str) -> tuple[str, str]:
    bucket, _slash, key = location.removeprefix(_S3_SCHEME).partition("/")
    return bucket, key


def _blocks(profile_import: ProfileImport, offset: int) -> Iterator[bytes]:
    """The stored file's bytes from `offset` on, a block at a time."""
    location = profile_import.file_location
    if location.startswith(_S3_SCHEME):
        bucket, key = _s3_object(location)
        if offset >= profile_import.file_size:
            return
        # The version the upload left (its ETag): the presigned form stays valid for a
        # while, and a file replaced after its check must not be imported unchecked.
        s3, wanted = aws_clients.s3(), f"bytes={offset}-"
        if profile_import.file_etag:
            found = s3.get_object(
                Bucket=bucket, Key=key, Range=wanted, IfMatch=profile_import.file_etag
            )
        else:
            found = s3.get_object(Bucket=bucket, Key=key, Range=wanted)
        body = found["Body"]
        try:
            yield from body.iter_chunks(_READ_SIZE)
        finally:
            body.close()  # a reader that stops early (the header) frees the connection
        return
    with Path(location).open("rb") as file:
        file.seek(offset)
        yield from iter(lambda: file.read(_READ_SIZE), b"")


def _lines(blocks: Iterator[bytes], *, first_line: int) -> Iterator[bytes]:
    """Physical lines, each with its line break (the last one may have none), numbered
    from `first_line`. A line is put together once (no buffer growing and copied again
    at each block), and no more than MAX_LINE_BYTES of it is held: a longer line refuses
    the file (ProfileFileError)."""
    number = first_line
    pending: list[bytes] = []  # the start of a line that goes on in the next block
    pending_size = 0
    for block in blocks:
        *complete, rest = block.split(b"\n")
        for part in complete:
            if pending_size + len(part) >= MAX_LINE_BYTES:  # with its line break, over
                raise line_too_long(number)
            if pending:
                yield b"".join([*pending, part, b"\n"])
                pending, pending_size = [], 0
            else:
                yield part + b"\n"
            number += 1
        if rest:
            pending_size += len(rest)
            if pending_size > MAX_LINE_BYTES:
                raise line_too_long(number)
            pending.append(rest)
    if pending:
        yield b"".join(pending)


def _header(profile_import: ProfileImport) -> bytes:
    return next(_lines(_blocks(profile_import, 0), first_line=1), b"")


class _StepFeed:
    """The lines one step gives the engine, from where the last step stopped until the
    step's time is up (at a line boundary outside quotes) or the file ends."""

    def __init__(self, lines: Iterator[bytes], *, offset: int, line: int, deadline: float):
        self._lines = lines
        self.offset = offset  # bytes of the file consumed
        self.line = line  # the next line's number
        self.finished = False
        self._deadline = deadline
        self._in_quotes = False

    def __iter__(self) -> Iterator[str]:
        started = False
        for raw in self._lines:
            if started and not self._in_quotes and time.monotonic() >= self._deadline:
                return  # this line is the next step's first
            started = True
            # Decoded line by line: a line break is never inside a UTF-8 sequence.
            text = raw.decode("utf-8")
            self.offset += len(raw)
            self.line += 1
            self._in_quotes = _ends_in_quotes(raw, self._in_quotes)
            yield text
        self.finished = True


def _ends_in_quotes(line: bytes, in_quotes: bool) -> bool:
    """Whether a CSV record continues past this physical line inside a quoted field, read
    the way the csv module reads it: a quote opens a quoted field only at the start of a
    field, `""` inside one is a quote, and a quote anywhere else is an ordinary character
    (so a stray `0.9"5` does not make the rest of the file one field)."""
    field_start = not in_quotes
    position, end = 0, len(line)
    while position < end:
        char = line[position : position + 1]
        if in_quotes:
            if char == b'"':
                if line[position + 1 : position + 2] == b'"':
                    position += 1  # an escaped quote
                else:
                    in_quotes = False
        elif char == b'"' and field_start:
            in_quotes = True
        field_start = not in_quotes and char == b","
        position += 1
    return in_quotes


# ---------------------------------------------------------------------------------------
# The admin's import: upload (and check), confirm
# ---------------------------------------------------------------------------------------
def profile_import_start(
    *, actor: User, upload: IO[bytes], file_name: str, strict: bool
) -> ProfileImport:
    """Record an upload, keep its file, and start checking it (the preview)."""
    profile_import = ProfileImport(
        source=ProfileImport.Source.ADMIN,
        actor=actor,
        actor_name=actor.get_username(),
        file_name=Path(file_name).name[:255],
        strict=strict,
        status=ProfileImport.Status.CHECKING,
    )
    location, sha256, size = _stored(profile_import, upload)
    profile_import.file_location = location
    profile_import.file_sha256 = sha256
    profile_import.file_size = size
    profile_import.full_clean()
    profile_import.save()
    logger.info("profile import %s uploaded: %d bytes, sha256 %s", profile_import.pk, size, sha256)
    transaction.on_commit(lambda: profile_import_step(str(profile_import.pk)))
    return profile_import


# A direct upload's form is valid this long; its return address, a day.
_DIRECT_UPLOAD_SECONDS = 3600
_UPLOAD_TOKEN_SALT = "scores.profile_imports.direct_upload"  # noqa: S105 (a namespace)
_UPLOAD_TOKEN_MAX_AGE = timedelta(days=1)
# The form fields the browser adds to a direct upload (S3 keeps them as the object's
# metadata): the file's name (URL-encoded by scores/static/scores/import_upload.js: S3
# metadata is ASCII) and whether the import is strict ("yes" or "no").
FILENAME_FIELD = "x-amz-meta-filename"
STRICT_FIELD = "x-amz-meta-strict"


@dataclass(frozen=True, slots=True)
class DirectUpload:
    """A form that sends a file straight to the operations bucket (an S3 presigned POST):
    on Lambda a request body cannot exceed 6 MB, and a million rows are tens of MB. S3
    sends the browser back to `return_url` (with the object's bucket and key added)."""

    url: str
    fields: dict[str, str]


def profile_import_direct_upload(*, actor: User, return_url: str) -> DirectUpload:
    """A presigned POST for one new import file, `imports/<id>.csv`, from this staff
    member; `return_url` gets a signed token naming the import and its uploader."""
    import_id = uuid.uuid4()
    token = signing.dumps({"id": str(import_id), "user": actor.pk}, salt=_UPLOAD_TOKEN_SALT)
    redirect = f"{return_url}?{urlencode({'token': token})}"
    post = aws_clients.s3().generate_presigned_post(
        Bucket=settings.OPERATIONS_BUCKET,
        Key=f"{IMPORTS_PREFIX}{import_id}.csv",
        Fields={"success_action_redirect": redirect},
        Conditions=[
            {"success_action_redirect": redirect},
            ["content-length-range", 1, settings.PROFILE_IMPORT_MAX_UPLOAD_BYTES],
            ["starts-with", f"${FILENAME_FIELD}", ""],
            ["starts-with", f"${STRICT_FIELD}", ""],
        ],
        ExpiresIn=_DIRECT_UPLOAD_SECONDS,
    )
    return DirectUpload(url=post["url"], fields=dict(post["fields"]))


def profile_import_start_uploaded(*, actor: User, token: str, key: str) -> ProfileImport:
    """Record a file a direct upload put in the operations bucket, and start checking it.
    Idempotent: the browser coming back twice (a reload) finds the same import."""
    try:
        claims = signing.loads(token, salt=_UPLOAD_TOKEN_SALT, max_age=_UPLOAD_TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise UploadNotRecognised() from None
    import_id = uuid.UUID(claims["id"])
    if claims["user"] != actor.pk or key != f"{IMPORTS_PREFIX}{import_id}.csv":
        raise UploadNotRecognised()
    existing = ProfileImport.objects.filter(pk=import_id).first()
    if existing is not None:
        return existing
    bucket = settings.OPERATIONS_BUCKET
    try:
        head = aws_clients.s3().head_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError):
        raise UploadNotRecognised() from None
    metadata = head.get("Metadata", {})
    # The browser wrote this name: keep its last path part, without NUL, never empty.
    name = Path(unquote(metadata.get("filename", ""))).name.replace("\x00", "")
    file_name = name or f"{import_id}.csv"
    profile_import = ProfileImport(
        id=import_id,
        source=ProfileImport.Source.ADMIN,
        actor=actor,
        actor_name=actor.get_username(),
        file_name=file_name[:255],
        file_location=f"{_S3_SCHEME}{bucket}/{key}",
        file_size=head["ContentLength"],
        file_etag=head.get("ETag", "")[:100],
        strict=metadata.get("strict") == "yes",
        status=ProfileImport.Status.CHECKING,
    )
    profile_import.full_clean(exclude=["file_sha256", "id"])  # the first step reads the file
    try:
        with transaction.atomic():
            profile_import.save(force_insert=True)
    except IntegrityError:  # the same return, twice at once: the other one recorded it
        return ProfileImport.objects.get(pk=import_id)
    logger.info("profile import %s uploaded: %d bytes", profile_import.pk, profile_import.file_size)
    transaction.on_commit(lambda: profile_import_step(str(profile_import.pk)))
    return profile_import


def _file_sha256(profile_import: ProfileImport) -> str:
    digest = hashlib.sha256()
    for block in _blocks(profile_import, 0):
        digest.update(block)
    return digest.hexdigest()


@transaction.atomic
def profile_import_confirm(*, profile_import: ProfileImport, actor: User) -> ProfileImport:
    """Import a checked file. A strict import of a file with bad rows is refused (and
    recorded as refused); nothing is written then."""
    locked = ProfileImport.objects.select_for_update().get(pk=profile_import.pk)
    if locked.source != ProfileImport.Source.ADMIN or locked.status != ProfileImport.Status.CHECKED:
        raise ImportNotConfirmable()
    locked.confirmed_by = actor.get_username()
    if locked.strict and locked.bad_rows:
        locked.status = ProfileImport.Status.REFUSED
        locked.finished_at = timezone.now()
        locked.save()
        return locked
    locked.status = ProfileImport.Status.IMPORTING
    locked.bytes_done = 0
    locked.next_line = 2
    locked.progressed_at = timezone.now()
    locked.save()
    transaction.on_commit(lambda: profile_import_step(str(locked.pk)))
    return locked


def profile_import_resume(*, profile_import: ProfileImport) -> ProfileImport:
    """Start a stalled import's task again, from where its last finished step stopped."""
    return step_task_resume(
        ProfileImport,
        profile_import.pk,
        stalled=lambda found: found.stalled,
        progressed_field="progressed_at",
        step=lambda pk: profile_import_step(str(pk)),
        refused=ImportNotResumable,
        what="profile import",
    )


def _profile_import_steps(import_id: str) -> None:
    # A task is not a request, so nothing else recycles a broken or old connection (never
    # inside a transaction: a call in-process may run in one).
    if not transaction.get_connection().in_atomic_block:
        close_old_connections()
    if profile_import_advance(import_id=import_id):
        profile_import_step(import_id)


def profile_import_step(import_id: str) -> None:
    """Run the import's steps as a Zappa task: one step, then the next (a new invocation on
    Lambda, a plain call elsewhere) until the phase is done. Zappa finds the function on
    Lambda by its module and name (scores.services.profile_imports._profile_import_steps).

    zappa.asynchronous is imported here, not with this module: importing it creates four
    boto3 clients (Lambda, SNS, STS, DynamoDB), which every cold start of the API would pay
    for a task only the admin's imports use (bench/README.md, cold start).
    """
    from zappa.asynchronous import task

    task(_profile_import_steps)(import_id)


def profile_import_advance(*, import_id: str) -> bool:
    """Run one step of the import's current phase; True if another step is needed."""
    profile_import = ProfileImport.objects.get(pk=import_id)
    if not profile_import.running:
        return False
    checking = profile_import.status == ProfileImport.Status.CHECKING
    steps_before = profile_import.steps
    ProfileImport.objects.filter(pk=profile_import.pk).update(progressed_at=timezone.now())
    try:
        if not profile_import.file_sha256:  # a direct upload: no server saw its bytes yet
            profile_import.file_sha256 = _file_sha256(profile_import)
            profile_import.save(update_fields=["file_sha256"])
        header = _header(profile_import).decode("utf-8")
        offset = max(profile_import.bytes_done, len(header.encode("utf-8")))
        feed = _StepFeed(
            _lines(_blocks(profile_import, offset), first_line=profile_import.next_line),
            offset=offset,
            line=profile_import.next_line,
            deadline=time.monotonic() + settings.PROFILE_IMPORT_STEP_SECONDS,
        )
        # The lines earlier steps read, as blank lines: the engine skips them, and numbers
        # every line as the file does.
        lines = itertools.chain(
            [header], itertools.repeat("\n", profile_import.next_line - 2), feed
        )
        if profile_import.bytes_done == 0:  # a phase's first step: the check's are not its
            seen_cpfs_forget(import_id=profile_import.pk)
        # The engine's reasons are English; so are the model validators' among them, as on
        # the command line, whatever language the step runs in.
        with translation.override("en"):
            report = credit_profiles_import(
                file=cast(Any, lines),
                dry_run=checking,
                import_id=profile_import.pk,
                in_parts=True,
            )
        if feed.finished:
            seen_cpfs_forget(import_id=profile_import.pk)
    except ProfileFileError as exc:
        return _failed(profile_import, exc.message, **exc.params)
    except UnicodeDecodeError:
        return _failed(profile_import, gettext_noop("the file is not UTF-8 text"))
    except (OSError, BotoCoreError, ClientError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
        if code == "PreconditionFailed":
            return _failed(
                profile_import,
                gettext_noop(
                    "the file was replaced in the bucket after it was uploaded; upload it again"
                ),
            )
        logger.exception("profile import %s: the stored file could not be read", import_id)
        return _failed(profile_import, gettext_noop("the stored file could not be read"))
    return _after_step(profile_import, report, feed, checking=checking, steps_before=steps_before)


def _after_step(
    profile_import: ProfileImport,
    report: ProfileImportReport,
    feed: _StepFeed,
    *,
    checking: bool,
    steps_before: int,
) -> bool:
    with transaction.atomic():
        locked = ProfileImport.objects.select_for_update().get(pk=profile_import.pk)
        if locked.steps != steps_before:  # another invocation ran this step (a retry)
            return False
        locked.steps += 1
        locked.progressed_at = timezone.now()
        locked.bytes_done = feed.offset
        locked.next_line = feed.line
        if checking:
            locked.checked_rows += report.rows
            locked.to_create += report.created
            locked.to_update += report.updated
            locked.to_leave += report.unchanged
            locked.bad_rows += len(report.errors)
            room = settings.PROFILE_IMPORT_MAX_ERRORS_KEPT - len(locked.row_errors)
            locked.row_errors += [_kept(e) for e in report.errors[: max(room, 0)]]
        else:
            locked.rows += report.rows
            locked.created += report.created
            locked.updated += report.updated
            locked.unchanged += report.unchanged
            locked.skipped += len(report.errors)
            locked.invalidation_failures += report.invalidation_failures
        if feed.finished:
            if checking:
                locked.status = ProfileImport.Status.CHECKED
                locked.checked_at = timezone.now()
            else:
                locked.status = ProfileImport.Status.IMPORTED
                locked.finished_at = timezone.now()
        locked.save()
    logger.info(
        "profile import %s: step %d, %d bytes of %d read",
        locked.pk,
        locked.steps,
        locked.bytes_done,
        locked.file_size,
    )
    return not feed.finished


def _kept(error: RowError) -> list[Any]:
    """A bad row as the record keeps it: line, English text, and the reasons the import's
    page says in its reader's language."""
    return [error.line, error.message, [list(reason) for reason in error.reasons]]


def _failure(message: str | list[str], params: dict[str, Any]) -> dict[str, Any]:
    """The record's fields of a failure: its English text and its reason (the message,
    marked for translation, and its values), which the import's page translates."""
    text = failure_text(message, params, translate=False)
    return {"failure": text[:500], "failure_reason": {"message": message, "params": params}}


def _failed(profile_import: ProfileImport, message: str | list[str], **params: Any) -> bool:
    failure = _failure(message, params)
    ProfileImport.objects.filter(pk=profile_import.pk).update(
        status=ProfileImport.Status.FAILED, finished_at=timezone.now(), **failure
    )
    logger.warning("profile import %s failed: %s", profile_import.pk, failure["failure"])
    return False


# ---------------------------------------------------------------------------------------
# The command line's record
# ---------------------------------------------------------------------------------------
def _command_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def profile_import_command_begin(*, path: Path, strict: bool, dry_run: bool) -> ProfileImport:
    """The record of a `manage.py import_profiles` run, before it starts: the operating
    system's user, the file's name, SHA-256 and size."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_READ_SIZE), b""):
            digest.update(block)
    profile_import = ProfileImport(
        source=ProfileImport.Source.COMMAND,
        actor_name=_command_user(),
        file_name=path.name[:255],
        file_sha256=digest.hexdigest(),
        file_size=path.stat().st_size,
        strict=strict,
        status=ProfileImport.Status.CHECKING if dry_run else ProfileImport.Status.IMPORTING,
    )
    profile_import.full_clean()
    profile_import.save()
    return profile_import


def profile_import_command_end(
    *,
    profile_import: ProfileImport,
    report: ProfileImportReport | None,
    failure: str | list[str] = "",
    failure_params: dict[str, Any] | None = None,
) -> ProfileImport:
    """Record how a command-line run ended: its counts, or why it failed (`failure`, a
    message marked for translation, with `failure_params`)."""
    now = timezone.now()
    profile_import.bytes_done = profile_import.file_size
    if report is None:
        profile_import.status = ProfileImport.Status.FAILED
        for name, value in _failure(failure, failure_params or {}).items():
            setattr(profile_import, name, value)
        profile_import.finished_at = now
    else:
        kept = [_kept(e) for e in report.errors[: settings.PROFILE_IMPORT_MAX_ERRORS_KEPT]]
        profile_import.row_errors = kept
        if not report.written:  # a dry run, or a strict run refused
            _count_check(profile_import, report)
            profile_import.checked_at = now
            if profile_import.status == ProfileImport.Status.IMPORTING:
                profile_import.status = ProfileImport.Status.REFUSED
                profile_import.finished_at = now
            else:
                profile_import.status = ProfileImport.Status.CHECKED
        else:
            profile_import.rows = report.rows
            profile_import.created = report.created
            profile_import.updated = report.updated
            profile_import.unchanged = report.unchanged
            profile_import.skipped = len(report.errors)
            profile_import.invalidation_failures = report.invalidation_failures
            profile_import.status = ProfileImport.Status.IMPORTED
            profile_import.finished_at = now
    profile_import.save()
    return profile_import


def _count_check(profile_import: ProfileImport, report: ProfileImportReport) -> None:
    profile_import.checked_rows = report.rows
    profile_import.to_create = report.created
    profile_import.to_update = report.updated
    profile_import.to_leave = report.unchanged
    profile_import.bad_rows = len(report.errors)


__all__ = [
    "DirectUpload",
    "profile_import_advance",
    "profile_import_command_begin",
    "profile_import_command_end",
    "profile_import_confirm",
    "profile_import_direct_upload",
    "profile_import_resume",
    "profile_import_start",
    "profile_import_start_uploaded",
    "profile_import_step",
]
