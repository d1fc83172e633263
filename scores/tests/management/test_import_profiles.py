"""manage.py import_profiles: validation, upsert, strict and dry runs, cache invalidation."""

from __future__ import annotations

import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from devstack.services import free_port
from scores.cache import score_cache
from scores.core.cpf import Cpf
from scores.imports.profile_file import (
    COLUMNS,
    MAX_HEADER_COLUMNS,
    MAX_LINE_BYTES,
    ProfileFileError,
    read_profiles,
)
from scores.models import CreditProfile
from scores.tests.fixtures import EXAMPLE_CPF, OTHER_EXAMPLE_CPF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("score_table")]

HEADER = ",".join(COLUMNS)
GOOD_ROW = "0.9800,0,0,0,0,0.2500,1,96,3"
WEAK_ROW = "0.7200,2,45,1,0,0.8500,4,20,7"


def write_csv(tmp_path, *lines, name="profiles.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_import(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_profiles", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def profile_of(cpf, settings):
    return CreditProfile.objects.get(cpf_hash=Cpf.parse(cpf).lookup_hash(settings.CPF_HASH_KEY))


def test_if_a_file_is_valid_then_every_row_is_imported(tmp_path, settings):
    path = write_csv(tmp_path, HEADER, f"{EXAMPLE_CPF},{GOOD_ROW}", f"11144477735,{WEAK_ROW}")

    out, _ = run_import(path)

    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 invalid." in out
    example = profile_of(EXAMPLE_CPF, settings)
    assert example.cpf_masked == "***.982.247-**"
    assert example.version == 1
    assert profile_of(OTHER_EXAMPLE_CPF, settings).max_days_past_due_12m == 45


def test_if_rows_are_bad_then_each_is_reported_by_line_and_the_good_ones_imported(
    tmp_path, settings
):
    path = write_csv(
        tmp_path,
        HEADER,
        f"{EXAMPLE_CPF},{GOOD_ROW}",
        f"52998224724,{GOOD_ROW}",  # line 3: wrong check digit
        "11144477735,1.5,0,0,0,0,0.25,1,96,3",  # line 4: ratio above 1
        "39053344705,abc,-1,0,0,0,0.25,1,96",  # line 5: wrong column count
        "39053344705,0.9,-1,0,0,0,x,1,96,3",  # line 6: two bad values
        f"529.982.247-25,{WEAK_ROW}",  # line 7: same CPF as line 2
    )

    out, err = run_import(path)

    assert "line 3: cpf: CPF check digits do not match." in err
    assert "line 4: on_time_payment_ratio: must be at most 1." in err
    assert "line 5: expected 10 columns, found 9" in err
    assert "line 6: delinquencies_30d_12m: must be a whole number" in err
    assert "; credit_utilization: must be a decimal number" in err
    assert "line 7: cpf: same CPF as line 2" in err
    assert "6 rows: 1 created, 0 updated, 0 unchanged, 5 invalid." in out
    assert CreditProfile.objects.count() == 1
    assert profile_of(EXAMPLE_CPF, settings).on_time_payment_ratio == Decimal("0.98")
    assert "52998224724" not in err
    assert "39053344705" not in err


def test_if_strict_and_any_row_is_bad_then_nothing_is_imported(tmp_path):
    path = write_csv(tmp_path, HEADER, f"{EXAMPLE_CPF},{GOOD_ROW}", f"123,{GOOD_ROW}")

    with pytest.raises(CommandError, match="Strict import refused"):
        run_import(path, "--strict")

    assert not CreditProfile.objects.exists()


def test_if_strict_and_every_row_is_good_then_all_are_imported(tmp_path):
    path = write_csv(
        tmp_path, HEADER, f"{EXAMPLE_CPF},{GOOD_ROW}", f"{OTHER_EXAMPLE_CPF},{WEAK_ROW}"
    )

    out, _ = run_import(path, "--strict")

    assert "2 created" in out
    assert CreditProfile.objects.count() == 2


def test_if_dry_run_then_nothing_is_written_but_the_counts_are_given(tmp_path, make_profile):
    make_profile(EXAMPLE_CPF)
    path = write_csv(
        tmp_path, HEADER, f"{EXAMPLE_CPF},{WEAK_ROW}", f"{OTHER_EXAMPLE_CPF},{GOOD_ROW}"
    )

    out, _ = run_import(path, "--dry-run")

    assert "Dry run: 2 rows: 1 would be created, 1 would be updated" in out
    assert CreditProfile.objects.count() == 1
    assert CreditProfile.objects.get().version == 1


def test_if_a_profile_changes_then_it_is_updated_and_its_cached_score_invalidated(
    tmp_path, client_with_key, make_profile, settings
):
    make_profile(EXAMPLE_CPF)
    before = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()
    assert (
        client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()["source"]
        == "cache"
    )
    path = write_csv(tmp_path, HEADER, f"{EXAMPLE_CPF},{WEAK_ROW}")

    out, _ = run_import(path)

    assert "1 updated" in out
    assert profile_of(EXAMPLE_CPF, settings).version == 2
    after = client_with_key.post("/api/v1/scores", {"cpf": EXAMPLE_CPF}, format="json").json()
    assert after["source"] == "computed"
    assert (before["score"], after["score"]) == (975, 480)


def test_if_a_profile_is_unchanged_then_its_version_and_cache_are_kept(
    tmp_path, client_with_key, make_profile, dynamodb_calls
):
    make_profile(EXAMPLE_CPF)
    path = write_csv(tmp_path, HEADER, f"{EXAMPLE_CPF},{GOOD_ROW}")

    out, _ = run_import(path)

    assert "0 updated, 1 unchanged" in out
    assert "BatchWriteItem" not in dynamodb_calls
    assert CreditProfile.objects.get().version == 1


def test_if_the_cache_is_unreachable_then_the_import_lands_but_fails_loudly(
    tmp_path, make_profile, settings
):
    make_profile(EXAMPLE_CPF)
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    path = write_csv(tmp_path, HEADER, f"{EXAMPLE_CPF},{WEAK_ROW}")

    with pytest.raises(CommandError, match="1 changed profiles kept their cached score"):
        run_import(path)

    assert CreditProfile.objects.get().version == 2


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        pytest.param([], "the file is empty", id="empty"),
        pytest.param(["cpf,score"], "missing columns", id="missing-columns"),
        pytest.param([HEADER + ",extra"], "unknown columns: extra", id="unknown-column"),
        pytest.param([f"{EXAMPLE_CPF},{GOOD_ROW}"], "[REDACTED-CPF]", id="no-header-row"),
    ],
)
def test_if_the_header_is_wrong_then_nothing_is_imported(tmp_path, lines, message):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(CommandError) as caught:
        run_import(path)

    assert message in str(caught.value)
    assert "52998224725" not in str(caught.value)
    assert not CreditProfile.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "cpf," + ",".join(f"c{n}" for n in range(40_000)) + f"\n{EXAMPLE_CPF},{GOOD_ROW}\n",
            f"line 1 is longer than {MAX_LINE_BYTES} bytes",
            id="40000-columns",
        ),
        pytest.param(
            "cpf" + "," * (MAX_HEADER_COLUMNS * 3) + "\n",
            f"the header has {MAX_HEADER_COLUMNS * 3 + 1} columns",
            id="many-columns",
        ),
        pytest.param(
            f"{HEADER}\n{EXAMPLE_CPF},{GOOD_ROW}\n" + "a," * MAX_LINE_BYTES + "\n",
            f"line 3 is longer than {MAX_LINE_BYTES} bytes",
            id="long-row",
        ),
    ],
)
def test_if_the_file_is_too_wide_or_a_line_too_long_then_the_command_refuses_it(
    tmp_path, content, message
):
    path = tmp_path / "hostile.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=message):
        run_import(path, "--strict")

    assert not CreditProfile.objects.exists()


class _EndlessLine(io.StringIO):
    """A text file whose first line never ends: only a reader that asks for a bounded
    piece of a line ever gets an answer."""

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]  # (typeshed)
        if size is None or size < 0:
            raise AssertionError("the whole line was asked for")
        return "a" * size


def test_if_a_line_never_ends_then_the_engine_refuses_it_without_reading_it_whole():
    with pytest.raises(ProfileFileError, match="line 1 is longer than"):
        next(read_profiles(_EndlessLine()))


def test_if_the_file_is_not_utf8_then_the_command_says_so(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + b"\n\xe9\xe9\xe9\n")

    with pytest.raises(CommandError, match="not UTF-8"):
        run_import(path)


def test_if_the_file_does_not_exist_then_the_command_says_so(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run_import(tmp_path / "missing.csv")


def test_if_the_file_has_a_bom_blank_lines_and_crlf_then_it_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        ("\ufeff" + HEADER + "\r\n\r\n" + f"{EXAMPLE_CPF},{GOOD_ROW}\r\n").encode("utf-8")
    )

    out, _ = run_import(path)

    assert "1 created" in out


def test_if_the_file_is_large_then_progress_is_reported(tmp_path):
    rows = [f"{Cpf.from_base(f'{n:09d}').digits},{GOOD_ROW}" for n in range(100_000, 112_500)]
    path = write_csv(tmp_path, HEADER, *rows)

    out, err = run_import(path, "--chunk-size", "2500")

    assert "12,500 rows: 12,500 created" in out
    assert "… 10,000 rows read" in err
    assert CreditProfile.objects.count() == 12_500


def test_if_a_large_import_changes_profiles_then_all_their_items_are_invalidated(
    tmp_path, settings
):
    cpfs = [Cpf.from_base(f"{n:09d}") for n in range(200_000, 200_060)]
    write = write_csv(tmp_path, HEADER, *[f"{c.digits},{GOOD_ROW}" for c in cpfs])
    run_import(write)
    for cpf in cpfs:
        score_cache.put(
            cpf.lookup_hash(settings.CPF_HASH_KEY),
            score_cache.CachedScore(
                score=975,
                band="excellent",
                probability_of_default=Decimal(0),
                reason_codes=(),
                model_version="2026.1",
                profile_version=1,
                computed_at=timezone.now(),
            ),
            generation=0,
        )
    change = write_csv(
        tmp_path, HEADER, *[f"{c.digits},{WEAK_ROW}" for c in cpfs], name="change.csv"
    )

    run_import(change, "--chunk-size", "25")

    hashes = [c.lookup_hash(settings.CPF_HASH_KEY) for c in cpfs]
    assert all(score_cache.get(h, model_version="2026.1") is None for h in hashes)
