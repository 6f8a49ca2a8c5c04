"""Reading an export's values as contract types: dates, amounts, integers, yes/no, text.

Each parser takes a column as read (text from CSV; numbers, dates or text from Excel and
Parquet) and returns the parsed values (None where empty) and a mask of the values it cannot
read; it never guesses: a date column whose format is ambiguous is refused as a whole.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y",
    "%d.%m.%Y", "%d.%m.%y", "%d-%m-%Y", "%m-%d-%Y", "%d-%b-%y", "%d-%b-%Y", "%d %b %Y",
    "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S",
)
"""Formats tried on a date column when the mapping gives none."""

_CURRENCY = re.compile(r"^[A-Za-z]{3}\s*|\s*[A-Za-z]{3}$|[$€£¥₹₣₽₩]|\s")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class ValueFormat:
    """How an export writes its values (from the mapping)."""

    date_format: str | None = None
    decimal: str = "."
    thousands: str | None = None
    true_values: tuple[str, ...] = ("yes", "true", "1")
    false_values: tuple[str, ...] = ("no", "false", "0")
    flags: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    """(column, true values, false values) of yes/no columns spelled their own way."""

    def for_column(self, name: str) -> ValueFormat:
        """The format of contract column `name`: its own true/false values, if it has them."""
        for column, true_values, false_values in self.flags:
            if column == name:
                return replace(self, true_values=true_values, false_values=false_values)
        return self


class AmbiguousDates(ValueError):
    """A date column fits several formats that read its values differently."""


@dataclass(frozen=True)
class Parsed:
    """A parsed column: values (None where empty), which raw values were unreadable, and
    what was expected of them."""

    values: pd.Series
    bad: np.ndarray
    expected: str


def is_empty(raw: pd.Series) -> np.ndarray:
    """Missing values, and text that is empty or only spaces."""
    text = raw.map(lambda v: v.strip() == "" if isinstance(v, str) else False)
    return (raw.isna() | text.astype(bool)).to_numpy()


def parse(raw: pd.Series, kind: str, fmt: ValueFormat) -> Parsed:
    """Parse a column as `kind` (text, id, date, amount, rate, int or bool)."""
    parser = {"date": parse_dates, "amount": parse_numbers, "rate": parse_numbers,
              "int": parse_integers, "bool": parse_booleans}.get(kind, parse_text)
    return parser(raw, fmt)


def parse_text(raw: pd.Series, fmt: ValueFormat) -> Parsed:
    """Text, stripped; numbers written by a spreadsheet as 1234.0 keep their digits only."""
    empty = is_empty(raw)

    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    values = pd.Series([None if e else text(v) for v, e in zip(raw, empty, strict=True)],
                       index=raw.index, dtype=object)
    return Parsed(values, np.zeros(len(raw), dtype=bool), "text")


def parse_numbers(raw: pd.Series, fmt: ValueFormat) -> Parsed:
    """Numbers: decimal mark and thousands separator of the mapping, currency symbols or
    codes around them, (123.45) and a leading minus for negatives."""
    empty = is_empty(raw)
    out: list[float | None] = []
    bad = np.zeros(len(raw), dtype=bool)
    for i, (value, is_blank) in enumerate(zip(raw, empty, strict=True)):
        if is_blank:
            out.append(None)
            continue
        number = _number(value, fmt)
        bad[i] = number is None
        out.append(number)
    expected = f"a number with {fmt.decimal!r} as decimal mark"
    if fmt.thousands:
        expected += f" and {fmt.thousands!r} between thousands"
    elif any(any(c in str(v) for c in ",. '" if c != fmt.decimal) for v in raw[bad]):
        expected += " and no thousands separator (set thousands in the mapping)"
    return Parsed(pd.Series(out, index=raw.index, dtype=object), bad, expected)


def _number(value: object, fmt: ValueFormat) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value) if np.isfinite(value) else None
    text = str(value).strip()
    negative = text.startswith("(") and text.endswith(")")
    text = _CURRENCY.sub("", text.strip("()"))
    if fmt.thousands:
        text = text.replace(fmt.thousands, "")
    if fmt.decimal != ".":
        if "." in text:
            return None
        text = text.replace(fmt.decimal, ".")
    if not _NUMBER.match(text):
        return None
    number = float(text)
    return -number if negative else number


def parse_integers(raw: pd.Series, fmt: ValueFormat) -> Parsed:
    """Whole numbers (12 or 12.0)."""
    numbers = parse_numbers(raw, fmt)
    bad = numbers.bad.copy()
    out: list[int | None] = []
    for i, value in enumerate(numbers.values):
        whole = value is not None and float(value).is_integer()
        bad[i] |= value is not None and not whole
        out.append(int(value) if whole else None)
    return Parsed(pd.Series(out, index=raw.index, dtype=object), bad, "a whole number")


def parse_booleans(raw: pd.Series, fmt: ValueFormat) -> Parsed:
    """Yes/no flags, by the mapping's true and false values (case does not matter)."""
    truthy = {v.lower() for v in fmt.true_values}
    falsy = {v.lower() for v in fmt.false_values}
    empty = is_empty(raw)
    out: list[bool | None] = []
    bad = np.zeros(len(raw), dtype=bool)
    for i, (value, is_blank) in enumerate(zip(raw, empty, strict=True)):
        text = "" if is_blank else parse_text(pd.Series([value]), fmt).values[0].lower()
        if isinstance(value, bool | np.bool_):
            out.append(bool(value))
        elif is_blank:
            out.append(None)
        elif text in truthy or text in falsy:
            out.append(text in truthy)
        else:
            out.append(None)
            bad[i] = True
    expected = f"{' or '.join(fmt.true_values)} (true) or {' or '.join(fmt.false_values)} (false)"
    return Parsed(pd.Series(out, index=raw.index, dtype=object), bad, expected)


def parse_dates(raw: pd.Series, fmt: ValueFormat) -> Parsed:
    """Dates: real dates as they are; text by the mapping's format, or by the one format of
    `DATE_FORMATS` that reads the most values (refused when formats read them differently)."""
    empty = is_empty(raw)
    native = raw.map(lambda v: isinstance(v, dt.date | pd.Timestamp | np.datetime64))
    text_mask = ~empty & ~native.to_numpy(dtype=bool)
    text = raw[text_mask].astype(str).str.strip()
    date_format = fmt.date_format or _infer_format(text)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if len(text):
        parsed[text_mask] = pd.to_datetime(text, format=date_format, errors="coerce")
    if native.any():
        parsed[native.to_numpy()] = pd.to_datetime(raw[native.to_numpy()].astype(object))
    bad = text_mask & parsed.isna().to_numpy()
    values = pd.Series([None if pd.isna(d) else d.date() for d in parsed], index=raw.index,
                       dtype=object)
    example = dt.date(2013, 1, 31).strftime(date_format) if date_format else "2013-01-31"
    hint = "" if fmt.date_format else " (inferred; set date_format in the mapping)"
    return Parsed(values, bad, f"a date like {example} ({date_format}){hint}")


def _infer_format(text: pd.Series) -> str | None:
    """The format reading the most values; AmbiguousDates when another reads as many values
    to different dates. None for an empty column."""
    if text.empty:
        return None
    sample = text.drop_duplicates()
    results = {f: pd.to_datetime(sample, format=f, errors="coerce") for f in DATE_FORMATS}
    counts = {f: int(r.notna().sum()) for f, r in results.items()}
    best = max(counts.values())
    if best == 0:
        return DATE_FORMATS[0]
    tied = [f for f, c in counts.items() if c == best]
    first = results[tied[0]]
    rivals = [f for f in tied[1:] if not results[f].equals(first)]
    if rivals:
        raise AmbiguousDates(f"dates fit several formats ({', '.join([tied[0], *rivals])}) "
                             "that read them differently; set date_format in the mapping")
    return tied[0]
