"""Named conversions: exact money and time, and a clear refusal of what does not convert."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.convert import CONVERSIONS, ConversionError


@pytest.mark.parametrize(
    ("name", "native", "expected"),
    [
        ("epoch_s_to_ms", 1714550400, 1714550400000),
        ("epoch_s_to_ms", 1714550400.25, 1714550400250),
        ("epoch_s_to_ms", "1714550400", 1714550400000),
        ("epoch_s_to_rfc3339", 1714550400, "2024-05-01T08:00:00Z"),
        ("epoch_s_to_rfc3339", 1714550400.5, "2024-05-01T08:00:00.500Z"),
        ("epoch_ms_to_rfc3339", 1714550400123, "2024-05-01T08:00:00.123Z"),
        ("yuan_to_fen", 3.5, 350),
        ("yuan_to_fen", 0.29, 29),  # 0.29 * 100 is 28.999999999999996 as a float product
        ("yuan_to_fen", "12.80", 1280),
        ("yuan_to_fen", 7, 700),
        ("fahrenheit_to_celsius", 212, 100.0),
        ("fahrenheit_to_celsius", -40.0, -40.0),
        ("to_int", 12.0, 12),
        ("to_int", "12", 12),
        ("to_float", "6.5", 6.5),
        ("to_float", 6, 6.0),
        ("to_str", 202405010042, "202405010042"),
        ("to_bool", 0, False),
        ("to_bool", "ON", True),
        ("to_bool", True, True),
    ],
    ids=lambda v: str(v),
)
def test_conversion_maps_native_value(name: str, native: Any, expected: Any) -> None:
    """Each conversion gives the platform's value, of the platform's type."""
    got = CONVERSIONS[name](native)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("name", "native", "message"),
    [
        ("epoch_s_to_ms", True, "got bool"),
        ("epoch_s_to_ms", -1, "out of range"),
        ("epoch_s_to_ms", 10**15, "out of range"),
        ("epoch_s_to_ms", "soon", "as a number"),
        ("epoch_s_to_rfc3339", float("nan"), "finite"),
        ("yuan_to_fen", 3.505, "not a whole number of fen"),
        ("yuan_to_fen", [3.5], "got list"),
        ("fahrenheit_to_celsius", "75", "got str"),
        ("to_int", 1.5, "expected an integer"),
        ("to_int", False, "got bool"),
        ("to_str", 1.5, "got float"),
        ("to_bool", 2, "expected a boolean"),
        ("to_bool", "maybe", "expected a boolean"),
    ],
    ids=lambda v: str(v),
)
def test_conversion_refuses_with_reason(name: str, native: Any, message: str) -> None:
    """A value that does not convert raises ConversionError saying what was expected."""
    with pytest.raises(ConversionError, match=message):
        CONVERSIONS[name](native)
