"""Named unit and type conversions an adapter rule may apply (``convert: yuan_to_fen``).

Each takes the native value and returns the platform's, or raises :class:`ConversionError`
saying what it got. Money and time go through :class:`~decimal.Decimal` built from the number's
shortest text, so 3.5 yuan is 350 fen and 1714550400.25 s is 1714550400250 ms exactly, never
349.99999 or ...249: a float product would be off by one now and then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["CONVERSIONS", "Conversion", "ConversionError"]

Conversion = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Far beyond any device clock, near Python's datetime range: larger values are refused before
# they overflow (the platform's time window refuses the implausible ones after mapping).
_MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z
# Ten times the platform's largest amount (10,000,000 fen): the fast path of yuan_to_fen.
_MAX_YUAN = 1_000_000
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ConversionError(ValueError):
    """The native value cannot be converted; the message says what was expected."""


def _decimal(value: Any, what: str) -> Decimal:
    """A finite number (int, float or decimal text) as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConversionError(f"expected {what} as a number, got {type(value).__name__}")
    try:
        number = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ConversionError(f"expected {what} as a number, got {value!r:.40}") from None
    if not number.is_finite():
        raise ConversionError(f"expected a finite {what}, got {value!r:.40}")
    return number


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConversionError(f"expected {what} as a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ConversionError(f"expected a finite {what}, got {value!r}")
    return float(value)


def _epoch_s(value: Any) -> Decimal:
    seconds = _decimal(value, "epoch seconds")
    if not 0 <= seconds <= _MAX_EPOCH_S:
        raise ConversionError(f"epoch seconds {value!r} is out of range")
    return seconds


def epoch_s_to_ms(value: Any) -> int:
    """Unix epoch seconds (int, float or decimal text) → integer epoch milliseconds."""
    if type(value) is int and 0 <= value <= _MAX_EPOCH_S:
        return value * 1000  # the common case, exact without Decimal
    return int((_epoch_s(value) * 1000).to_integral_value())


def epoch_s_to_rfc3339(value: Any) -> str:
    """Unix epoch seconds → RFC 3339 in UTC (``2024-05-01T08:00:00Z``, milliseconds if any)."""
    ms = int((_epoch_s(value) * 1000).to_integral_value())
    return _rfc3339(ms)


def epoch_ms_to_rfc3339(value: Any) -> str:
    """Unix epoch milliseconds → RFC 3339 in UTC."""
    ms = _decimal(value, "epoch milliseconds")
    if not 0 <= ms <= _MAX_EPOCH_S * 1000:
        raise ConversionError(f"epoch milliseconds {value!r} is out of range")
    return _rfc3339(int(ms.to_integral_value()))


def _rfc3339(ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def yuan_to_fen(value: Any) -> int:
    """Yuan (CNY; int, float or decimal text such as ``"3.50"``) → integer fen, exactly.

    A price with a fraction of a fen (3.505) is refused rather than rounded: money is not guessed.
    """
    if type(value) is int and 0 <= value <= _MAX_YUAN:
        return value * 100  # exact without Decimal
    if type(value) is float and 0 <= value <= _MAX_YUAN:
        # At most two decimals as written (3.5, 12.8): the nearest integer of value * 100 is
        # exact. Anything else (3.505, 1e-05) takes the Decimal path and its verdict.
        text = repr(value)
        if "e" not in text and len(text) - text.index(".") <= 3:
            return round(value * 100)
    fen = _decimal(value, "yuan") * 100
    if fen != fen.to_integral_value():
        raise ConversionError(f"{value!r} yuan is not a whole number of fen")
    return int(fen)


def fahrenheit_to_celsius(value: Any) -> float:
    """Degrees Fahrenheit → degrees Celsius (add ``round: 1`` to the rule for tidy values)."""
    return (_number(value, "°F") - 32.0) * 5.0 / 9.0


def to_int(value: Any) -> int:
    """An integer, an integral float (``12.0``) or integer text (``"12"``) → int."""
    if isinstance(value, bool):
        raise ConversionError("expected an integer, got bool")
    if isinstance(value, int):
        return value
    number = _decimal(value, "an integer")
    if number != number.to_integral_value():
        raise ConversionError(f"expected an integer, got {value!r:.40}")
    return int(number)


def to_float(value: Any) -> float:
    """A number or numeric text (``"6.5"``) → float."""
    return float(_decimal(value, "a number"))


def to_str(value: Any) -> str:
    """Text or an integer (an id sent as a number) → text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConversionError(f"expected text or an integer, got {type(value).__name__}")
    return str(value)


def to_bool(value: Any) -> bool:
    """A boolean, 0/1, or text true/false, 1/0, yes/no, on/off (any case) → bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ConversionError(f"expected a boolean (true/false, 1/0), got {value!r:.40}")


CONVERSIONS: dict[str, Conversion] = {
    "epoch_s_to_ms": epoch_s_to_ms,
    "epoch_s_to_rfc3339": epoch_s_to_rfc3339,
    "epoch_ms_to_rfc3339": epoch_ms_to_rfc3339,
    "yuan_to_fen": yuan_to_fen,
    "fahrenheit_to_celsius": fahrenheit_to_celsius,
    "to_int": to_int,
    "to_float": to_float,
    "to_str": to_str,
    "to_bool": to_bool,
}
"""Every conversion by the name an adapter file uses."""
