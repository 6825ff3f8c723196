"""Minor-to-major currency conversion is exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from custom_components.ev_energy.api import minor_to_major, minor_unit_exponent


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("GBP", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3),
        ("CLF", 4), ("gbp", 2), ("jpy", 0), ("kwd", 3), ("XYZ", 2),
    ],
)  # fmt: skip
def test_minor_unit_exponent(currency: str, exponent: int) -> None:
    """ISO 4217 minor units, case-insensitive, 2 for anything unlisted."""
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (24, "GBP", "0.24"),
        (10, "GBP", "0.10"),
        (100, "GBP", "1.00"),
        (0, "GBP", "0.00"),
        (-5, "GBP", "-0.05"),
        (1999, "USD", "19.99"),
        (1, "EUR", "0.01"),
        (123456789, "EUR", "1234567.89"),
        (31, "JPY", "31"),
        (0, "JPY", "0"),
        (1234, "KWD", "1.234"),
        (5, "KWD", "0.005"),
        (7, "gbp", "0.07"),
    ],
)
def test_minor_to_major(amount: int, currency: str, expected: str) -> None:
    """The result is a Decimal with exactly the currency's decimal places."""
    result = minor_to_major(amount, currency)
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)
    assert str(result) == expected
    assert result.as_tuple().exponent == -minor_unit_exponent(currency)


def test_minor_to_major_is_not_float_arithmetic() -> None:
    """10 pence is exactly 0.1, unlike the binary float 0.1."""
    assert minor_to_major(10, "GBP") == Decimal("0.1")
    assert minor_to_major(10, "GBP") != Decimal.from_float(0.1)
    assert sum(minor_to_major(1, "GBP") for _ in range(10)) == Decimal("0.1")
