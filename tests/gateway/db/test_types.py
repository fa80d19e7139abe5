"""Money refuses what would lose digits; the SQLite text form sorts as the numbers do."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sluicegate.gateway.db.types import _money_text, to_money


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError, match="never a float"):
        to_money(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["-0.01", "abc", "1e30"])
def test_money_refuses_negative_malformed_and_huge_amounts(bad: str) -> None:
    with pytest.raises(ValueError, match="money"):
        to_money(bad)


def test_money_keeps_eighteen_decimals() -> None:
    assert to_money("0.000000123456789") == Decimal("0.000000123456789000")
    assert to_money(3) == Decimal("3.000000000000000000")


def test_sqlite_text_form_is_fixed_width_and_sorts_numerically() -> None:
    amounts = [Decimal(x) for x in ("10", "9.99", "0.000000000000000001", "123456.5", "0")]
    texts = [_money_text(to_money(a)) for a in amounts]

    assert {len(t) for t in texts} == {39}
    assert sorted(texts) == [_money_text(to_money(a)) for a in sorted(amounts)]
