from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scores.core.cpf import INPUT_PATTERN, MASKED_PATTERN, Cpf, CpfError, InvalidCpf
from scores.tests.api.strategies import (
    json_values,
    shaped_cpf_inputs,
    unicode_digit_inputs,
    valid_cpf_inputs,
)

# The valid CPF 529.982.247-25 in digits that str.isdigit() accepts but the CPF rules do not.
FULL_WIDTH_DIGITS = "".join(chr(0xFF10 + int(d)) for d in "52998224725")
ARABIC_INDIC_DIGITS = "".join(chr(0x0660 + int(d)) for d in "52998224725")
VALID_DIGITS = "52998224725"

# Table of bad input: every one must be refused, with the reason it is refused for.
BAD_INPUT = [
    pytest.param("5299822472a", CpfError.BAD_FORMAT, id="letter"),
    pytest.param("abc.def.ghi-jk", CpfError.BAD_FORMAT, id="letters-formatted"),
    pytest.param("5299822472", CpfError.BAD_FORMAT, id="10-digits"),
    pytest.param("529982247250", CpfError.BAD_FORMAT, id="12-digits"),
    pytest.param("11111111111", CpfError.REPEATED_DIGITS, id="repeated-digits"),
    pytest.param("111.111.111-11", CpfError.REPEATED_DIGITS, id="repeated-digits-formatted"),
    pytest.param("00000000000", CpfError.REPEATED_DIGITS, id="zeros"),
    pytest.param("52998224724", CpfError.BAD_CHECK_DIGITS, id="wrong-second-check-digit"),
    pytest.param("52998224715", CpfError.BAD_CHECK_DIGITS, id="wrong-first-check-digit"),
    pytest.param("529.982.247-52", CpfError.BAD_CHECK_DIGITS, id="wrong-check-digits-formatted"),
    pytest.param(FULL_WIDTH_DIGITS, CpfError.BAD_FORMAT, id="full-width-digits"),
    pytest.param(ARABIC_INDIC_DIGITS, CpfError.BAD_FORMAT, id="arabic-indic-digits"),
    pytest.param("529.982.247.25", CpfError.BAD_FORMAT, id="dot-for-dash"),
    pytest.param("529-982-247-25", CpfError.BAD_FORMAT, id="dashes-only"),
    pytest.param("529982.247-25", CpfError.BAD_FORMAT, id="partly-formatted"),
    pytest.param("529 982 247 25", CpfError.BAD_FORMAT, id="spaces-as-separators"),
    pytest.param("529/982/247-25", CpfError.BAD_FORMAT, id="slashes"),
    pytest.param("529.982.247-25x", CpfError.BAD_FORMAT, id="trailing-garbage"),
    pytest.param("+52998224725", CpfError.BAD_FORMAT, id="sign"),
    pytest.param("", CpfError.EMPTY, id="empty"),
    pytest.param("   \t ", CpfError.EMPTY, id="whitespace-only"),
    pytest.param(None, CpfError.NOT_A_STRING, id="null"),
    pytest.param(52998224725, CpfError.NOT_A_STRING, id="integer"),
    pytest.param(5.2998224725e10, CpfError.NOT_A_STRING, id="float"),
    pytest.param(["52998224725"], CpfError.NOT_A_STRING, id="list"),
    pytest.param({"cpf": "52998224725"}, CpfError.NOT_A_STRING, id="object"),
    pytest.param(b"52998224725", CpfError.NOT_A_STRING, id="bytes"),
    pytest.param("5" * 10_000, CpfError.BAD_FORMAT, id="very-long"),
    pytest.param(" " * 10_000 + VALID_DIGITS + "0", CpfError.BAD_FORMAT, id="long-padded"),
    pytest.param("052998224725", CpfError.BAD_FORMAT, id="zero-padded-12"),
    pytest.param("5299822472\u200b5", CpfError.BAD_FORMAT, id="zero-width-space"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_INPUT)
def test_if_input_is_not_a_cpf_then_parse_refuses_it_with_the_reason(value, reason):
    with pytest.raises(InvalidCpf) as caught:
        Cpf.parse(value)

    assert caught.value.reason is reason
    assert str(caught.value) == reason.value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("52998224725", id="bare"),
        pytest.param("529.982.247-25", id="formatted"),
        pytest.param("  529.982.247-25\n", id="surrounding-whitespace"),
        pytest.param("\t52998224725 ", id="bare-with-tab"),
    ],
)
def test_if_input_is_an_accepted_form_then_it_parses_to_the_canonical_digits(value):
    assert Cpf.parse(value).digits == VALID_DIGITS


def test_if_a_cpf_has_a_leading_zero_then_it_is_kept():
    cpf = Cpf.from_base("012345678")

    assert Cpf.parse(cpf.digits).digits.startswith("0")
    assert len(cpf.digits) == 11


def test_if_ten_digits_are_sent_then_they_are_not_zero_padded():
    cpf = Cpf.from_base("012345678")

    with pytest.raises(InvalidCpf):
        Cpf.parse(cpf.digits[1:])


def test_if_cpf_is_masked_then_only_the_middle_six_digits_show():
    assert Cpf.parse("529.982.247-25").masked == "***.982.247-**"


def test_if_cpf_is_printed_or_repr_then_the_digits_do_not_leak():
    cpf = Cpf.parse(VALID_DIGITS)

    assert VALID_DIGITS not in str(cpf)
    assert VALID_DIGITS not in repr(cpf)
    assert VALID_DIGITS not in f"{cpf!s} {cpf!r} {[cpf]}"


def test_if_forms_differ_then_the_lookup_hash_is_the_same():
    key = b"k" * 32

    assert Cpf.parse("529.982.247-25").lookup_hash(key) == Cpf.parse("52998224725").lookup_hash(key)


def test_if_the_hash_key_differs_then_the_lookup_hash_differs():
    cpf = Cpf.parse(VALID_DIGITS)

    assert cpf.lookup_hash(b"a" * 32) != cpf.lookup_hash(b"b" * 32)


def test_if_hashed_then_the_hash_is_hmac_sha256_hex_and_not_the_digits():
    digest = Cpf.parse(VALID_DIGITS).lookup_hash(b"k" * 32)

    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert VALID_DIGITS not in digest


def test_if_a_cpf_is_built_directly_with_bad_digits_then_it_is_refused():
    with pytest.raises(InvalidCpf):
        Cpf("52998224724")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_if_generated_from_any_base_then_both_forms_parse_to_the_same_cpf(base):
    try:
        cpf = Cpf.from_base(base)
    except InvalidCpf:
        assert base == base[0] * 9  # only a repeated digit cannot be completed
        return

    assert Cpf.parse(cpf.digits) == cpf
    assert Cpf.parse(cpf.formatted) == cpf
    assert cpf.digits[:9] == base


@given(st.text(max_size=30))
def test_if_input_is_arbitrary_text_then_parse_returns_a_cpf_or_raises_invalid_cpf(text):
    try:
        cpf = Cpf.parse(text)
    except InvalidCpf:
        return
    assert cpf.digits.isascii()
    assert cpf.digits.isdigit()


@given(
    st.one_of(
        valid_cpf_inputs,
        shaped_cpf_inputs,
        unicode_digit_inputs,
        st.text(max_size=30),
        st.text(alphabet="0123456789.- \t\n\u00a0\u2007", max_size=16),
    )
)
def test_if_text_matches_the_schema_pattern_or_not_then_parse_agrees_on_its_form(text):
    matches = re.search(INPUT_PATTERN, text) is not None

    try:
        outcome: Cpf | InvalidCpf = Cpf.parse(text)
    except InvalidCpf as exc:
        outcome = exc

    if isinstance(outcome, Cpf):
        assert matches
        assert re.fullmatch(MASKED_PATTERN, outcome.masked)
        return
    if matches:  # the form is the pattern's business; the digits are parse's alone
        assert outcome.reason in {CpfError.REPEATED_DIGITS, CpfError.BAD_CHECK_DIGITS}
    else:
        assert outcome.reason in {CpfError.BAD_FORMAT, CpfError.EMPTY}
    assert str(outcome) == outcome.reason.value  # a fixed message: never the input


@given(valid_cpf_inputs)
def test_if_a_valid_cpf_is_sent_in_any_accepted_shape_then_it_parses_and_never_shows(text):
    cpf = Cpf.parse(text)

    assert re.search(INPUT_PATTERN, text)
    assert cpf.digits not in f"{cpf} {cpf!r} {[cpf]}"


@given(json_values.filter(lambda value: not isinstance(value, str)))
def test_if_the_input_is_any_json_but_a_string_then_it_is_not_a_cpf(value):
    with pytest.raises(InvalidCpf) as caught:
        Cpf.parse(value)

    assert caught.value.reason is CpfError.NOT_A_STRING
