"""The credit data operators' import in the admin (issue 14): upload, preview, confirm, the
task's steps, the file in S3 or under MEDIA_ROOT, strict, the record of every import (the
command line's too), and that no CPF ends up in a record or a log line."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest.mock import ANY
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
import time_machine
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.staff import StaffRole
from conftest import sign_in
from scoreportal import aws_clients
from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.imports.profile_file import (
    COLUMNS,
    MAX_HEADER_COLUMNS,
    MAX_LINE_BYTES,
    ProfileFileError,
)
from scores.models import STALLED_AFTER, CreditProfile, ImportSeenCpf, ProfileImport
from scores.selectors import active_scorecard
from scores.services.profile_imports import (
    FILENAME_FIELD,
    STRICT_FIELD,
    _lines,
    _StepFeed,
    profile_import_command_begin,
)
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

HEADER = ",".join(COLUMNS)
GOOD_ROW = "0.9800,0,0,0,0,0.2500,1,96,3"
WEAK_ROW = "0.7200,2,45,1,0,0.8500,4,20,7"
THIRD_CPF = "390.533.447-05"
# Line 2 updates the example's profile, line 3 is a new one, line 4 has a bad CPF, line 5
# a bad ratio and count, line 6 repeats line 3's CPF, line 7 is another new one (line 5's
# CPF, whose row was bad).
MIXED_FILE = "\n".join(
    [
        HEADER,
        f"{EXAMPLE_CPF},{WEAK_ROW}",
        f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}",
        f"529.982.247-26,{GOOD_ROW}",
        f"{THIRD_CPF},1.5,x,0,0,0,0.25,1,96,3",
        f"11144477735,{WEAK_ROW}",
        f"{THIRD_CPF},{GOOD_ROW}",
    ]
).encode()
IMPORTS = reverse("admin:scores_profileimport_changelist")
UPLOAD = reverse("admin:scores_profileimport_add")


def page_of(profile_import):
    return reverse("admin:scores_profileimport_change", args=[profile_import.pk])


def confirm_url(profile_import):
    return reverse("admin:scores_profileimport_confirm", args=[profile_import.pk])


def hash_of(cpf, settings):
    return Cpf.parse(cpf).lookup_hash(settings.CPF_HASH_KEY)


@pytest.fixture
def operator(staff_member):
    return staff_member("otto", role=StaffRole.CREDIT_DATA_OPERATORS)


@pytest.fixture
def operator_client(operator):
    return sign_in(Client(), operator)


@pytest.fixture
def upload(operator_client, django_capture_on_commit_callbacks):
    """Upload a file through the admin's form; the check runs (in this process) once the
    upload commits. Returns the record and the page the browser is sent to."""

    def send(content=MIXED_FILE, *, name="perfis.csv", strict=False):
        data: dict[str, object] = {
            "file": SimpleUploadedFile(name, content, content_type="text/csv")
        }
        if strict:
            data["strict"] = "on"
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(UPLOAD, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        profile_import = ProfileImport.objects.latest("created_at")
        assert response["Location"] == page_of(profile_import)
        return profile_import, operator_client.get(response["Location"])

    return send


@pytest.fixture
def confirm(operator_client, django_capture_on_commit_callbacks):
    def send(profile_import):
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(confirm_url(profile_import))
        assert response.status_code == 302
        profile_import.refresh_from_db()
        return operator_client.get(response["Location"])

    return send


@pytest.fixture
def cached_example(make_profile, client_with_key, settings):
    """The example CPF's profile, with its score in the cache (served once by the API)."""
    make_profile(EXAMPLE_CPF)
    client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json")
    cached = score_cache.get(
        hash_of(EXAMPLE_CPF, settings), model_version=active_scorecard().version
    )
    assert cached is not None
    return cached


def test_if_an_operator_uploads_good_and_bad_rows_then_the_preview_shows_them_and_the_import_follows_confirmation(  # noqa: E501
    upload, confirm, cached_example, operator, settings
):
    profile_import, preview = upload()

    page = preview.content.decode()
    assert profile_import.status == ProfileImport.Status.CHECKED
    assert (
        profile_import.checked_rows,
        profile_import.to_create,
        profile_import.to_update,
        profile_import.to_leave,
        profile_import.bad_rows,
    ) == (6, 2, 1, 0, 3)
    assert [line for line, *_reason in profile_import.row_errors] == [4, 5, 6]
    assert "cpf: mesmo CPF da linha 3" in page
    assert "cpf: os dígitos verificadores do CPF não conferem." in page
    assert "on_time_payment_ratio: deve ser no máximo 1." in page
    assert "check digits" not in page  # the reasons in the reader's language
    assert "on_time_payment_ratio" in page
    assert "delinquencies_30d_12m" in page
    assert 'id="import-confirm"' in page
    assert CreditProfile.objects.count() == 1  # the check wrote nothing
    assert (
        score_cache.get(hash_of(EXAMPLE_CPF, settings), model_version=active_scorecard().version)
        == cached_example
    )

    result = confirm(profile_import)

    assert profile_import.status == ProfileImport.Status.IMPORTED
    assert (
        profile_import.created,
        profile_import.updated,
        profile_import.unchanged,
        profile_import.skipped,
    ) == (2, 1, 0, 3)
    assert CreditProfile.objects.count() == 3
    example = CreditProfile.objects.get(cpf_hash=hash_of(EXAMPLE_CPF, settings))
    assert (example.version, example.max_days_past_due_12m) == (2, 45)
    assert (
        score_cache.get(hash_of(EXAMPLE_CPF, settings), model_version=active_scorecard().version)
        is None
    )
    assert 'id="import-result"' in result.content.decode()
    record = ProfileImport.objects.get()
    assert (record.source, record.actor, record.actor_name, record.confirmed_by) == (
        ProfileImport.Source.ADMIN,
        operator,
        "otto",
        "otto",
    )
    assert (record.file_name, record.file_size) == ("perfis.csv", len(MIXED_FILE))
    assert record.file_sha256 == hashlib.sha256(MIXED_FILE).hexdigest()
    assert record.finished_at is not None


def test_if_the_import_is_strict_and_a_row_is_bad_then_nothing_is_imported(
    upload, confirm, cached_example, settings
):
    profile_import, preview = upload(strict=True)

    assert "nada será importado" in preview.content.decode()
    result = confirm(profile_import)

    assert profile_import.status == ProfileImport.Status.REFUSED
    assert "nada foi importado" in result.content.decode()
    assert CreditProfile.objects.count() == 1
    assert CreditProfile.objects.get().version == 1
    assert (
        score_cache.get(hash_of(EXAMPLE_CPF, settings), model_version=active_scorecard().version)
        == cached_example
    )


def test_if_the_import_is_strict_and_every_row_is_good_then_it_is_imported(upload, confirm):
    content = f"{HEADER}\n{EXAMPLE_CPF},{GOOD_ROW}\n{OTHER_EXAMPLE_CPF},{WEAK_ROW}\n".encode()
    profile_import, _preview = upload(content, strict=True)

    confirm(profile_import)

    assert profile_import.status == ProfileImport.Status.IMPORTED
    assert CreditProfile.objects.count() == 2


def test_if_an_import_is_confirmed_twice_then_the_second_is_refused(upload, confirm):
    profile_import, _preview = upload()
    confirm(profile_import)

    again = confirm(profile_import)

    assert "não pode ser confirmada" in again.content.decode()
    assert ProfileImport.objects.get().steps == 2  # one check step, one import step


def test_if_a_step_runs_out_of_time_then_the_next_one_goes_on_and_lines_keep_their_numbers(
    upload, confirm, settings
):
    settings.PROFILE_IMPORT_STEP_SECONDS = 0  # every step stops after its first line

    profile_import, _preview = upload()

    assert profile_import.steps == 6
    assert [error[:2] for error in profile_import.row_errors] == [
        [4, "cpf: CPF check digits do not match."],
        [5, ANY],
        [6, "cpf: same CPF as line 3"],  # read three steps later
    ]
    assert (profile_import.to_create, profile_import.to_update, profile_import.bad_rows) == (
        3,
        0,
        3,
    )
    assert profile_import.bytes_done == len(MIXED_FILE)
    confirm(profile_import)
    assert (profile_import.created, profile_import.updated, profile_import.skipped) == (3, 0, 3)
    assert profile_import.steps == 12
    assert list((settings.MEDIA_ROOT / "imports").iterdir()) == [
        settings.MEDIA_ROOT / "imports" / f"{profile_import.pk}.csv"
    ]
    assert not ImportSeenCpf.objects.exists()  # what the steps kept between them is gone


@pytest.mark.parametrize(
    ("content", "failure", "shown"),
    [
        pytest.param(
            b"cpf,score\n52998224725,1\n",
            "missing columns",
            "faltam as colunas: on_time_payment_ratio, delinquencies_30d_12m",
            id="header",
        ),
        pytest.param(
            HEADER.encode() + b"\n\xff\xfe,1\n", "not UTF-8", "não é texto UTF-8", id="not-utf8"
        ),
    ],
)
def test_if_the_file_cannot_be_read_as_profiles_then_the_import_fails_and_says_why(
    upload, content, failure, shown
):
    profile_import, page = upload(content)

    assert profile_import.status == ProfileImport.Status.FAILED
    assert failure in profile_import.failure
    assert shown in page.content.decode()
    assert "52998224725" not in profile_import.failure


def test_if_a_file_is_saved_by_excel_in_pt_br_then_semicolons_and_decimal_commas_are_read(
    upload, confirm
):
    content = "\n".join(
        [
            ";".join(COLUMNS),
            f"{EXAMPLE_CPF};0,98;0;0;0;0;0,25;1;96;3",
            f"{OTHER_EXAMPLE_CPF};0,72;2;45;1;0;0,85;4;20;7",
        ]
    ).encode()

    profile_import, _page = upload(content)
    confirm(profile_import)

    assert (profile_import.created, profile_import.bad_rows) == (2, 0)
    assert str(CreditProfile.objects.get(cpf_masked="***.982.247-**").on_time_payment_ratio) == (
        "0.9800"
    )


# A header of 40,000 columns (bytes enough to pass the line's limit), one of a few
# hundred short names (within the line's limit, past the columns'), and a row longer
# than any line may be.
WIDE_HEADER = ("cpf," + ",".join(f"c{n}" for n in range(40_000))).encode() + b"\n"
MANY_COLUMNS = ("cpf" + "," * (MAX_HEADER_COLUMNS * 3)).encode() + b"\n"
LONG_ROW = HEADER.encode() + b"\n" + f"{EXAMPLE_CPF},{GOOD_ROW}\n".encode() + b"a," * MAX_LINE_BYTES


@pytest.mark.parametrize(
    ("content", "english", "portuguese"),
    [
        pytest.param(
            WIDE_HEADER + f"{EXAMPLE_CPF},{GOOD_ROW}\n".encode(),
            f"line 1 is longer than {MAX_LINE_BYTES} bytes",
            f"a linha 1 tem mais de {MAX_LINE_BYTES} bytes",
            id="40000-columns",
        ),
        pytest.param(
            MANY_COLUMNS,
            f"the header has {MAX_HEADER_COLUMNS * 3 + 1} columns",
            f"o cabeçalho tem {MAX_HEADER_COLUMNS * 3 + 1} colunas",
            id="many-columns",
        ),
        pytest.param(
            LONG_ROW,
            f"line 3 is longer than {MAX_LINE_BYTES} bytes",
            f"a linha 3 tem mais de {MAX_LINE_BYTES} bytes",
            id="long-row",
        ),
    ],
)
def test_if_the_file_is_too_wide_or_a_line_too_long_then_the_check_refuses_it_and_says_why(
    upload, content, english, portuguese
):
    profile_import, page = upload(content)

    assert profile_import.status == ProfileImport.Status.FAILED
    assert english in profile_import.failure
    assert portuguese in page.content.decode()
    assert profile_import.checked_rows == 0
    assert not CreditProfile.objects.exists()


def test_if_a_line_never_ends_then_the_step_s_reader_stops_at_the_limit():
    """The reader holds at most the limit of one line: a line that never ends (blocks
    forever) is refused, not read into memory."""
    endless = iter(lambda: b"a" * 4096, b"")

    with pytest.raises(ProfileFileError, match="line 7 is longer than"):
        list(_lines(endless, first_line=7))


def test_if_a_line_spans_many_blocks_then_it_is_read_whole_once():
    blocks = [b"cpf,", b"a" * 10, b"b\nc", b"", b"d\n", b"\n", b"tail"]

    assert list(_lines(iter(blocks), first_line=1)) == [
        b"cpf," + b"a" * 10 + b"b\n",
        b"cd\n",
        b"\n",
        b"tail",
    ]


def test_if_the_file_is_empty_then_the_form_says_so(operator_client):
    response = operator_client.post(
        UPLOAD, {"file": SimpleUploadedFile("vazio.csv", b"", content_type="text/csv")}
    )

    assert response.status_code == 200
    assert not ProfileImport.objects.exists()


def test_if_there_is_no_operations_bucket_then_the_file_stays_under_media_root(
    upload, settings, tmp_path
):
    settings.OPERATIONS_BUCKET = ""
    settings.MEDIA_ROOT = tmp_path / "media"

    profile_import, _preview = upload()

    stored = Path(profile_import.file_location)
    assert stored == tmp_path / "media" / "imports" / f"{profile_import.pk}.csv"
    assert stored.read_bytes() == MIXED_FILE
    assert stored.stat().st_mode & 0o077 == 0


@pytest.fixture
def direct_upload(operator_client, operations_bucket, django_capture_on_commit_callbacks):
    """Upload a file as the browser does when there is an operations bucket: the admin's
    page gives a form that posts to S3 (here the moto server, over HTTP), and S3 sends the
    browser back to the admin. Returns the record, and the page the browser lands on."""

    def send(content=MIXED_FILE, *, name="perfis-março.csv", strict=False, client=None):
        client = client or operator_client
        form = client.get(UPLOAD)
        direct = form.context["direct"]
        target = urlsplit(direct.url)
        # The CSP lets the form be sent there.
        assert (
            f"form-action 'self' {target.scheme}://{target.netloc}"
            in form["Content-Security-Policy"]
        )
        fields = {
            **direct.fields,
            FILENAME_FIELD: quote(name),
            STRICT_FIELD: "yes" if strict else "no",
        }
        sent = requests.post(
            direct.url,
            data=fields,
            files={"file": (name, content, "text/csv")},
            allow_redirects=False,
            timeout=10,
        )
        assert sent.status_code == 303, sent.text
        with django_capture_on_commit_callbacks(execute=True):
            back = client.get(sent.headers["Location"])
        assert back.status_code == 302
        return ProfileImport.objects.latest("created_at"), client.get(back["Location"])

    return send


def test_if_there_is_an_operations_bucket_then_the_file_goes_to_s3_and_the_task_reads_it(
    direct_upload, confirm, operations_bucket, settings, tmp_path
):
    settings.PROFILE_IMPORT_STEP_SECONDS = 0  # ranged reads from the bucket, step by step

    profile_import, preview = direct_upload()

    key = f"imports/{profile_import.pk}.csv"
    assert profile_import.file_location == f"s3://{operations_bucket}/{key}"
    stored = aws_clients.s3().get_object(Bucket=operations_bucket, Key=key)["Body"].read()
    assert stored == MIXED_FILE
    assert not (tmp_path / "media").exists()
    assert (profile_import.file_name, profile_import.file_size) == (
        "perfis-março.csv",
        len(MIXED_FILE),
    )
    assert profile_import.file_sha256 == hashlib.sha256(MIXED_FILE).hexdigest()
    assert (profile_import.checked_rows, profile_import.steps) == (6, 6)
    assert [line for line, *_reason in profile_import.row_errors] == [4, 5, 6]
    assert 'id="import-confirm"' in preview.content.decode()
    confirm(profile_import)
    assert profile_import.status == ProfileImport.Status.IMPORTED
    assert CreditProfile.objects.count() == 3
    assert aws_clients.s3().list_objects_v2(Bucket=operations_bucket)["KeyCount"] == 1


def test_if_the_checked_file_is_replaced_in_the_bucket_then_the_import_refuses_it(
    direct_upload, confirm, operations_bucket
):
    """The presigned form stays valid for a while: a file uploaded again to the same key
    after its check (say, one with the bad rows a strict check refused) is not imported."""
    profile_import, _preview = direct_upload()
    key = f"imports/{profile_import.pk}.csv"
    aws_clients.s3().put_object(
        Bucket=operations_bucket, Key=key, Body=HEADER.encode() + b"\n" + b"x" * 10 + b"\n"
    )

    confirm(profile_import)

    assert profile_import.status == ProfileImport.Status.FAILED
    assert "replaced" in profile_import.failure
    assert not CreditProfile.objects.exists()


def test_if_a_direct_upload_is_strict_then_the_record_says_so(direct_upload, confirm):
    profile_import, _preview = direct_upload(strict=True)

    confirm(profile_import)

    assert profile_import.status == ProfileImport.Status.REFUSED
    assert not CreditProfile.objects.exists()


def test_if_the_browser_comes_back_twice_from_s3_then_there_is_one_import(
    operator_client, operations_bucket, django_capture_on_commit_callbacks
):
    direct = operator_client.get(UPLOAD).context["direct"]
    fields = {**direct.fields, FILENAME_FIELD: "perfis.csv", STRICT_FIELD: "no"}
    sent = requests.post(
        direct.url,
        data=fields,
        files={"file": ("perfis.csv", MIXED_FILE)},
        timeout=10,
        allow_redirects=False,
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = operator_client.get(sent.headers["Location"])
    second = operator_client.get(sent.headers["Location"])

    assert first["Location"] == second["Location"] == page_of(ProfileImport.objects.get())
    assert ProfileImport.objects.get().steps == 1


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param("token", id="forged-token"),
        pytest.param("key", id="another-key"),
        pytest.param("user", id="another-uploader"),
    ],
)
def test_if_the_return_from_s3_is_not_this_uploader_s_file_then_nothing_is_recorded(
    operator_client, operations_bucket, staff_member, tamper
):
    form = operator_client.get(UPLOAD).context["direct"]
    url = urlsplit(form.fields["success_action_redirect"])
    token = parse_qs(url.query)["token"][0]
    import_id = signing.loads(token, salt="scores.profile_imports.direct_upload")["id"]
    aws_clients.s3().put_object(
        Bucket=operations_bucket, Key=f"imports/{import_id}.csv", Body=MIXED_FILE
    )
    query = {"token": token, "key": f"imports/{import_id}.csv"}
    client = operator_client
    if tamper == "token":
        query["token"] = token[:-2] + "xx"
    elif tamper == "key":
        query["key"] = "imports/other.csv"
    else:
        client = sign_in(Client(), staff_member("olga", role=StaffRole.CREDIT_DATA_OPERATORS))

    response = client.get(url.path, query, follow=True)

    assert "não foi reconhecido" in response.content.decode()
    assert not ProfileImport.objects.exists()


def test_if_an_import_runs_then_no_cpf_is_in_its_record_or_the_log(upload, confirm, log_output):
    profile_import, _preview = upload()
    confirm(profile_import)

    record = str(ProfileImport.objects.filter(pk=profile_import.pk).values().get())
    logged = str(log_output())
    for cpf in (EXAMPLE_CPF, OTHER_EXAMPLE_CPF, THIRD_CPF, "529.982.247-26"):
        for form in (cpf, cpf.replace(".", "").replace("-", "")):
            assert form not in record
            assert form not in logged


def test_if_the_command_line_imports_then_the_import_is_recorded_with_the_os_user(
    tmp_path, settings
):
    path = tmp_path / "lote.csv"
    path.write_bytes(MIXED_FILE)

    call_command("import_profiles", str(path), stdout=StringIO(), stderr=StringIO())

    record = ProfileImport.objects.get()
    assert (record.source, record.actor, record.actor_name) == (
        ProfileImport.Source.COMMAND,
        None,
        getpass.getuser(),
    )
    assert (record.file_name, record.file_sha256) == (
        "lote.csv",
        hashlib.sha256(MIXED_FILE).hexdigest(),
    )
    assert (record.status, record.created, record.skipped) == (
        ProfileImport.Status.IMPORTED,
        3,
        3,
    )


def test_if_a_command_line_run_is_long_then_it_is_never_offered_for_resuming(
    tmp_path, operator_client
):
    path = tmp_path / "lote.csv"
    path.write_bytes(MIXED_FILE)
    record = profile_import_command_begin(path=path, strict=False, dry_run=False)

    with time_machine.travel(timezone.now() + STALLED_AFTER * 3):
        assert record.running
        assert not record.stalled
        page = operator_client.get(page_of(record)).content.decode()
        refused = operator_client.post(
            reverse("admin:scores_profileimport_resume", args=[record.pk])
        )

    assert 'id="import-resume-form"' not in page
    assert refused.status_code in (302, 400)
    record.refresh_from_db()
    assert record.status == ProfileImport.Status.IMPORTING  # the command's run, untouched


@pytest.mark.parametrize(
    ("args", "status"),
    [
        pytest.param(["--strict"], ProfileImport.Status.REFUSED, id="strict"),
        pytest.param(["--dry-run"], ProfileImport.Status.CHECKED, id="dry-run"),
    ],
)
def test_if_the_command_line_writes_nothing_then_the_record_says_what_it_found(
    tmp_path, args, status
):
    path = tmp_path / "lote.csv"
    path.write_bytes(MIXED_FILE)

    if "--strict" in args:
        with pytest.raises(CommandError):
            call_command("import_profiles", str(path), *args, stdout=StringIO(), stderr=StringIO())
    else:
        call_command("import_profiles", str(path), *args, stdout=StringIO(), stderr=StringIO())

    record = ProfileImport.objects.get()
    assert (record.status, record.bad_rows, record.to_create, record.created) == (status, 3, 3, 0)
    assert not CreditProfile.objects.exists()


def test_if_a_command_line_record_is_opened_then_it_cannot_be_confirmed(tmp_path, operator_client):
    path = tmp_path / "lote.csv"
    path.write_bytes(MIXED_FILE)
    call_command("import_profiles", str(path), "--dry-run", stdout=StringIO())
    record = ProfileImport.objects.get()

    page = operator_client.get(page_of(record)).content.decode()
    operator_client.post(confirm_url(record))

    assert "import-confirm-form" not in page
    record.refresh_from_db()
    assert record.status == ProfileImport.Status.CHECKED


@pytest.fixture
def lost_upload(operator_client):
    """An upload whose task never ran (as when its invocation could not be made)."""
    operator_client.post(
        UPLOAD, {"file": SimpleUploadedFile("perfis.csv", MIXED_FILE, content_type="text/csv")}
    )
    profile_import = ProfileImport.objects.get()
    assert profile_import.status == ProfileImport.Status.CHECKING
    return profile_import


def test_if_an_import_makes_no_progress_for_a_while_then_it_can_be_resumed(
    lost_upload, operator_client, django_capture_on_commit_callbacks
):
    page = operator_client.get(page_of(lost_upload)).content.decode()
    assert 'id="import-resume-form"' not in page
    assert 'http-equiv="refresh"' in page

    with time_machine.travel(timezone.now() + STALLED_AFTER + timedelta(seconds=1)):
        stalled = operator_client.get(page_of(lost_upload)).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            resumed = operator_client.post(
                reverse("admin:scores_profileimport_resume", args=[lost_upload.pk])
            )

    assert 'id="import-resume-form"' in stalled
    assert 'http-equiv="refresh"' not in stalled
    assert resumed.status_code == 302
    lost_upload.refresh_from_db()
    assert (lost_upload.status, lost_upload.checked_rows) == (ProfileImport.Status.CHECKED, 6)


def test_if_an_import_is_still_making_progress_then_it_is_not_resumed(lost_upload, operator_client):
    response = operator_client.post(
        reverse("admin:scores_profileimport_resume", args=[lost_upload.pk]), follow=True
    )

    assert "não está parada" in response.content.decode()
    lost_upload.refresh_from_db()
    assert lost_upload.steps == 0


def test_if_the_app_is_loaded_then_zappa_s_task_module_is_not_imported_with_it():
    """zappa.asynchronous creates four boto3 clients when imported (~70 ms): the import
    task loads it when it runs, so a cold start serving scores never pays for it."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, sys; django.setup(); import scores.services, scores.admin; "
            "print('zappa.asynchronous' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "scoreportal.settings_test"},
    )
    assert loaded.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("lines", "read"),
    [
        pytest.param([b"a,b\n", b"c,d\n", b"e,f\n"], 1, id="plain"),
        pytest.param([b'1,0.9"5\n', b"c,d\n", b"e,f\n"], 1, id="a stray quote"),
        pytest.param([b'1,"two\n', b'lines",d\n', b"e,f\n"], 2, id="a quoted line break"),
        pytest.param([b'1,"say ""hi""\n', b'there",d\n', b"e,f\n"], 2, id="escaped quotes"),
    ],
)
def test_if_a_step_s_time_is_up_then_it_stops_at_the_next_record_as_csv_reads_it(lines, read):
    """A step whose time is up stops at the next line that starts a record; a quote in the
    middle of an unquoted field (which csv reads as a character) must not make it read on
    to the end of the file, past Lambda's timeout."""
    feed = _StepFeed(iter(lines), offset=0, line=2, deadline=0.0)  # the time is up

    assert len(list(feed)) == read
    assert feed.finished is False


def test_if_an_operator_downloads_the_template_then_it_imports_as_it_is(
    operator_client, upload, confirm
):
    page = operator_client.get(UPLOAD).content.decode()
    assert 'id="import-dictionary"' in page
    assert "Dicionário de dados" in page

    template = operator_client.get(reverse("admin:scores_profileimport_template"))

    assert template["Content-Disposition"] == 'attachment; filename="modelo-perfis.csv"'
    header, _example = template.content.decode().splitlines()
    assert header == HEADER
    profile_import, _page = upload(template.content)
    confirm(profile_import)
    assert (profile_import.created, profile_import.bad_rows) == (1, 0)


def test_if_an_import_failed_then_its_page_offers_to_upload_another_file(upload):
    profile_import, page = upload(b"cpf,score\n52998224725,1\n")

    assert profile_import.status == ProfileImport.Status.FAILED
    assert 'id="import-again"' in page.content.decode()
    assert "Enviar outro arquivo" in page.content.decode()
