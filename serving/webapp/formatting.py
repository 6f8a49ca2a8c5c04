"""How numbers, amounts and dates read on the pages (Jinja2 filters)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import jinja2


def _blank(value: Any) -> bool:
    """No value: None, NaN or a field the row does not have (Jinja2's Undefined)."""
    return (value is None or isinstance(value, jinja2.Undefined)
            or (isinstance(value, float) and math.isnan(value)))


def number(value: Any, digits: int = 0) -> str:
    """`1,234,567` (or with `digits` decimals); an en dash for no value."""
    if _blank(value):
        return "–"
    return f"{float(value):,.{digits}f}"


def money(value: Any, currency: str | None = None, digits: int = 0) -> str:
    """`1,234,567 EUR`: thousands separators and the currency code."""
    if _blank(value):
        return "–"
    return f"{number(value, digits)} {currency}" if currency else number(value, digits)


def percent(value: Any, digits: int = 1) -> str:
    """A share as `12.3%`."""
    if _blank(value):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def day(value: Any) -> str:
    """A date (or ISO string) as `2026-03-01`."""
    if _blank(value) or value == "":
        return "–"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def moment(value: Any) -> str:
    """A time (or ISO string) as `2026-03-01 14:05 UTC`."""
    if _blank(value) or value == "":
        return "–"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def plain(value: Any) -> str:
    """A stored value as text: mappings as `key: value` pairs, lists joined by `; `, large
    numbers with thousands separators."""
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(plain(v) for v in value)
    if isinstance(value, float) and not _blank(value):
        return number(value) if abs(value) >= 1000 else f"{value:.4g}"
    return "–" if _blank(value) else str(value)


FILTERS = {"number": number, "money": money, "percent": percent, "day": day,
           "moment": moment, "plain": plain}
"""The filters every template can use."""
