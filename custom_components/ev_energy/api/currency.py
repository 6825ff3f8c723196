"""Currency minor-unit handling (ISO 4217 exponents)."""

from __future__ import annotations

from decimal import Decimal

# Currencies whose minor unit is not 1/100 of the major unit.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
            "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def minor_unit_exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has."""
    return _EXPONENTS.get(currency.upper(), 2)


def minor_to_major(amount: int | Decimal, currency: str) -> Decimal:
    """Convert an amount in minor units (e.g. pence, fractions allowed) to major units."""
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))
