"""Business calendars of due dates: weekends and the public holidays of a customer's country.

Holidays come from the `holidays` package (offline; national public holidays of the
country's ISO 3166 alpha-2 code, no subdivisions). Business days are Monday to Friday that
are not holidays. A country code the package does not know (the IBM sample's numeric codes,
an empty country) has an "unknown" calendar: its holiday columns are missing (NaN), while the
weekday features, which need no calendar, are computed as for any other invoice.

`due_calendar` gives the two per-invoice inputs the catalog's calendar features read:
`due_holiday` (1.0 if the due date is a public holiday, else 0.0; NaN when unknown) and
`due_business_shift` (days from the due date to the first business day on or after it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CALENDAR_COLUMNS: tuple[str, ...] = ("due_holiday", "due_business_shift")
"""The per-invoice calendar inputs the builders (and the API) provide, DOUBLE, NaN unknown."""


@lru_cache(maxsize=4096)
def _holidays_of_year(country: str, year: int) -> tuple[np.datetime64, ...] | None:
    """The public holidays of `country` in `year`, or None when the country is unknown."""
    import holidays

    code = country.strip().upper()
    if not code.isalpha():
        return None
    try:
        days = holidays.country_holidays(code, years=year)
    except NotImplementedError:  # a code the package does not know
        return None
    return tuple(np.datetime64(day, "D") for day in sorted(days))


def holiday_dates(country: str | None, years: range) -> np.ndarray | None:
    """Sorted datetime64[D] public holidays of `country` over `years`; None when unknown."""
    if country is None or not country.strip():
        return None
    out: list[np.datetime64] = []
    for year in years:
        days = _holidays_of_year(country, year)
        if days is None:
            return None
        out.extend(days)
    return np.array(out, dtype="datetime64[D]")


def due_calendar(country: pa.Array | pa.ChunkedArray,
                 due: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """`CALENDAR_COLUMNS` of invoices with these customer countries and due dates (date32).

    NaN for an unknown country (or a missing due date). Weekends are Saturday and Sunday.
    """
    days = np.asarray(pc.fill_null(due.cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
                      ).astype("datetime64[D]")
    known_due = np.asarray(due.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    encoded = pc.dictionary_encode(country.cast(pa.string()))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
    holiday = np.full(len(days), np.nan)
    shift = np.full(len(days), np.nan)
    for index, name in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero((codes == index) & known_due)
        if not len(rows):
            continue
        own = days[rows]
        first, last = own.min().astype(object).year, own.max().astype(object).year
        dates = holiday_dates(name, range(first, last + 2))  # a shift may cross new year
        if dates is None:
            continue
        holiday[rows] = np.isin(own, dates)
        shift[rows] = (np.busday_offset(own, 0, roll="forward", holidays=dates)
                       - own).astype(np.int64)
    return {"due_holiday": holiday, "due_business_shift": shift}


def calendar_table(keys: pa.Array | pa.ChunkedArray, key_name: str,
                   country: pa.Array | pa.ChunkedArray,
                   due: pa.Array | pa.ChunkedArray) -> pa.Table:
    """`due_calendar` as an Arrow table with the invoices' keys in front."""
    columns = due_calendar(country, due)
    return pa.table({key_name: keys, **{name: pa.array(values, pa.float64())
                                        for name, values in columns.items()}})
