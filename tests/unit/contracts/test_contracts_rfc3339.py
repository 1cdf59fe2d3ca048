"""rfc3339.parse: the quick shape check accepts and rejects exactly what PATTERN does."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stockline.contracts import rfc3339

_PATTERN = re.compile(rfc3339.PATTERN)


def reference(value: object) -> datetime:
    """`parse` as PATTERN alone decides it (the definition the quick check must match)."""
    if not isinstance(value, str) or not _PATTERN.fullmatch(value):
        raise ValueError(rfc3339._HINT)
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise ValueError(f"{rfc3339._HINT} ({exc})") from None
    if parsed < rfc3339.EPOCH:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    return parsed


def outcome(parse: object, value: object) -> tuple[str, object]:
    try:
        return "ok", parse(value)  # type: ignore[operator]
    except ValueError as exc:
        return "error", str(exc)


def _mutated(text: str, at: int, char: str | None) -> str:
    """`text` with the character at `at` (modulo its length) replaced, or unchanged."""
    if char is None:
        return text
    at %= len(text)
    return text[:at] + char + text[at + 1 :]


well_formed = st.builds(
    lambda moment, fraction, offset, sep, zulu: (
        moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + (zulu if offset == "Z" else offset)
    ),
    st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2300, 1, 1)),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=12).map(lambda d: "." + d)),
    st.sampled_from(["Z", "+00:00", "-01:30", "+23:59", "+99:00", "+01:60"]),
    st.sampled_from("TTTt "),
    st.sampled_from("ZZZz"),
)
near_rfc3339 = st.builds(
    _mutated,
    well_formed,
    st.integers(0, 40),
    st.one_of(st.none(), st.none(), st.sampled_from("09٣x/:.-+ Zz\n")),
)


@given(st.one_of(near_rfc3339, st.text(max_size=40)))
@example("2026-11-25T09:00:00.123456789Z")
@example("1969-12-31T23:59:59.999999Z")
@example("2026-02-30T09:00:00Z")
@example("2026-11-25T24:00:00+00:00")
@example("2026-11-25T09:00:00\ud800Z")
def test_parse_matches_the_pattern_alone(value: str) -> None:
    assert outcome(rfc3339.parse, value) == outcome(reference, value)


@pytest.mark.parametrize("value", [None, 1_795_597_200, b"2026-11-25T09:00:00Z"])
def test_parse_refuses_what_is_not_text(value: object) -> None:
    assert outcome(rfc3339.parse, value) == ("error", rfc3339._HINT)
