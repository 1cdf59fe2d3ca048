"""RFC 3339 timestamps on the wire, exact integer microseconds inside.

Accepted: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, `T`/`Z` in either case. An offset is
required (a naive time is ambiguous across sites). Fractions beyond microseconds are truncated.
Times before 1970-01-01T00:00:00Z are refused: microseconds since the epoch must stay exact
in a Lua double, and a pre-epoch time from a warehouse system is a defaulted field, not data.
For the same exactness, `parse_exact` (times that become microseconds) also refuses times
after `LATEST`, 2^53 microseconds after the epoch (2255-06-05T23:47:34.740992Z).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""The shape check, also published as the JSON Schema `pattern` of time fields."""

JSON_SCHEMA: Final[dict[str, Any]] = {"type": "string", "format": "date-time", "pattern": PATTERN}

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # rendered as UTC, with Z
LATEST: Final = EPOCH + 2**53 * _ONE_US
"""The last time whose µs since the epoch a double (Lua, a sorted-set score) holds exactly."""
_SHAPE: Final = re.compile(PATTERN)
_HINT: Final = "must be RFC 3339 with a UTC offset, e.g. 2026-11-25T10:00:00Z"
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_COMMON_SHAPES: Final = frozenset(
    b"0000-00-00T00:00:00" + fraction + offset
    for fraction in (b"", *(b"." + b"0" * n for n in range(1, 10)))
    for offset in (b"Z", b"+00:00", b"-00:00")
)
"""Upper-case shapes PATTERN accepts (fractions up to 9 digits), with every digit as 0: most
times on the wire, told apart in a fraction of the regex's time."""


def parse(value: object) -> datetime:
    """An aware datetime from RFC 3339 text; ValueError naming the rule otherwise."""
    if not isinstance(value, str):
        raise ValueError(_HINT)
    if value.isascii() and value.encode().translate(_DIGITS_AS_ZERO) in _COMMON_SHAPES:
        text = value  # already upper case
    elif _SHAPE.fullmatch(value):
        text = value.upper()
    else:
        raise ValueError(_HINT)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{_HINT} ({exc})") from None
    if parsed < EPOCH:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    return parsed


def parse_exact(value: object) -> datetime:
    """`parse`, also refusing times after `LATEST`, so `to_epoch_us` of it is exact in a double."""
    parsed = parse(value)
    if parsed > LATEST:
        raise ValueError("must not be after 2255-06-05T23:47:34.740992Z")
    return parsed


def check_text(value: str) -> str:
    """`value` unchanged if it is valid RFC 3339 (see `parse`)."""
    parse(value)
    return value


def to_epoch_us(moment: datetime) -> int:
    """Exact integer microseconds since the Unix epoch of an aware datetime."""
    return (moment - EPOCH) // _ONE_US


def render_utc(epoch_us: int) -> str:
    """RFC 3339 in UTC with `Z`; the microsecond fraction appears only when non-zero."""
    moment = _NAIVE_EPOCH + timedelta(microseconds=epoch_us)
    return moment.isoformat() + "Z"  # isoformat leaves out a zero fraction
