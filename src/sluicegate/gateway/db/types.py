"""Column types that behave the same on SQLite and PostgreSQL: exact money, UTC timestamps, JSON.

Money is the subtle one. PostgreSQL has an exact NUMERIC; SQLite has none (a NUMERIC column silently turns
'0.000000123456789' into a float), so on SQLite money is stored as fixed-width text — 20 integer digits, 18
decimals, zero-padded — which keeps every digit, and makes text order equal numeric order, so ORDER BY spend and
`spend >= max_budget` are right in SQL too. Sums go through `money_sum()`, which is SQL SUM on PostgreSQL and an
exact `decimal_sum` aggregate on SQLite (registered on every connection by `SQLiteConnection`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 38
MONEY_SCALE = 18  # catalog prices need 11 decimals today; 18 leaves room and matches a NUMERIC(38, 18)
_INTEGER_DIGITS = MONEY_PRECISION - MONEY_SCALE
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MAX = Decimal(10) ** _INTEGER_DIGITS
# Room for every digit of a NUMERIC(38, 18) and of sums over it (Python's default context keeps only 28).
_EXACT = Context(prec=MONEY_PRECISION + 12)

# A JSON column: JSONB on PostgreSQL (indexable, compact), JSON (text) on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def to_money(value: Decimal | int | str) -> Decimal:
    """`value` as an exact Decimal with the column's scale. Floats are refused: they already lost digits."""
    if isinstance(value, float):
        raise TypeError("money must be a Decimal, an int or a str, never a float (it has already lost digits)")
    try:
        amount = Decimal(value).quantize(_QUANTUM, context=_EXACT)
    except InvalidOperation as error:
        raise ValueError(f"not an amount of money: {value!r}") from error
    if amount.is_signed() and amount != 0:
        raise ValueError(f"amounts of money are never negative here (got {amount})")
    if amount >= _MAX:
        raise ValueError(f"amount too large for a money column: {amount}")
    return amount


def _money_text(amount: Decimal) -> str:
    whole, _, fraction = f"{amount:f}".partition(".")
    return f"{whole.zfill(_INTEGER_DIGITS)}.{fraction}"


class Money(TypeDecorator[Decimal]):
    """An exact, non-negative amount in USD: NUMERIC(38, 18) on PostgreSQL, fixed-width text on SQLite."""

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(MONEY_PRECISION + 1))
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_money(value)
        return _money_text(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(_QUANTUM, context=_EXACT)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware one (e.g. datetime.now(UTC))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class money_sum(GenericFunction[Decimal]):  # lower case: it reads as SQL, like sqlalchemy.func.sum
    """The exact sum of a Money column: `select(money_sum(SpendLog.spend))`. NULL over no rows, as SUM is."""

    type = Money()
    inherit_cache = True
    name = "money_sum"


@compiles(money_sum)
def _money_sum_default(element: money_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _money_sum_sqlite(element: money_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"decimal_sum({compiler.process(element.clauses, **kw)})"


class _DecimalSum:
    """SQLite aggregate: exact sum of money text; returns text (or NULL over no non-NULL rows)."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: str | int | None) -> None:
        if value is not None:
            self.total = _EXACT.add(self.total or Decimal(0), Decimal(value))

    def finalize(self) -> str | None:
        return None if self.total is None else f"{self.total:f}"


class SQLiteConnection(sqlite3.Connection):
    """The sqlite3 connection class for sluicegate's engines: adds the `decimal_sum` aggregate.

    Passed as sqlite3's `factory`, so it is built on aiosqlite's own thread (where sqlite3 wants it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]  # typeshed: finalize() -> int
