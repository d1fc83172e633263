"""Hypothesis strategies for hostile input: CPFs in every shape, any JSON, raw bodies.

Shared by the CPF module's tests and the endpoints' fuzz tests, with the outcome each input
must get (`cpf_outcome`), computed from the CPF module alone.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from scores.core.cpf import INPUT_PATTERN, Cpf, InvalidCpf


def _valid_cpf(base: str) -> Cpf | None:
    try:
        return Cpf.from_base(base)
    except InvalidCpf:  # a single repeated digit has no valid CPF
        return None


valid_cpfs = st.builds(_valid_cpf, st.text(alphabet="0123456789", min_size=9, max_size=9)).filter(
    lambda cpf: cpf is not None
)
# A valid CPF as a client may send it: bare or formatted, with surrounding ASCII whitespace.
valid_cpf_inputs = st.builds(
    lambda cpf, formatted, before, after: (
        f"{before}{cpf.formatted if formatted else cpf.digits}{after}"
    ),
    valid_cpfs,
    st.booleans(),
    st.text(alphabet=" \t\r\n", max_size=3),
    st.text(alphabet=" \t\r\n", max_size=3),
)
# Strings of the accepted shape: mostly wrong check digits, some repeated digits.
shaped_cpf_inputs = st.from_regex(INPUT_PATTERN)
# Eleven digits that str.isdigit() accepts, from any script (full-width, Arabic-Indic…).
unicode_digit_inputs = st.text(st.characters(categories=["Nd"]), min_size=11, max_size=14)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Anything a client may put where a CPF belongs.
cpf_inputs = st.one_of(
    valid_cpf_inputs,
    shaped_cpf_inputs,
    unicode_digit_inputs,
    st.text(max_size=20),
    json_values,
)


def cpf_outcome(value: Any) -> Cpf | None:
    """The CPF a value stands for, or None when the API must call it an invalid CPF."""
    try:
        return Cpf.parse(value)
    except InvalidCpf:
        return None


def nested(value: Any, depth: int) -> str:
    """`value` as JSON inside `depth` levels of arrays."""
    return "[" * depth + json.dumps(value) + "]" * depth
