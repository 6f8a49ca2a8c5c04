"""Customer history as of a snapshot date, and features of invoices posted to the API.

The API scores invoices it has not seen (`/score_invoices`): their customer's history comes
from the portfolio snapshot, their own features from the catalog's definitions, evaluated in
DuckDB over the posted rows. No feature is defined twice:

- `customer_history(ledger, as_of)`: `build_customer_features` plus the inputs the invoice
  and state features of `features.catalog` read besides the invoice itself (the customer's
  exchange rate, credit limit, currency, the event-ledger aggregates such as
  `invoiced_c__all` and the habit columns such as `prior_late_share`), stored in the
  snapshot;
- `PostedFeatures`: a DuckDB table of that history (plus one cold-start row: a customer
  without history, whose features the catalog's customer expressions give over empty
  aggregates and unknown attributes) and the catalog's invoice and state expressions over
  posted rows. A posted invoice is taken as just issued to the books: nothing paid or
  credited, no dispute and no promise on it (the state the training examples at issue have).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Iterable
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from features import build_customer_features, feature_catalog
from features.calendar import CALENDAR_COLUMNS, due_calendar
from features.catalog import FeatureSpec, measure_column
from features.compile import asof_hist_stage, needed_measures, projection
from features.events import MEASURES, cents, event_stages
from features.habits import HABIT_COLUMNS
from features.pipeline import customer_habits
from features.sql import materialize, with_query
from ledger.loader import Ledger

HISTORY_INPUTS = ("rate", "credit_limit_c", "customer_currency")
"""Customer columns the posted-invoice features read besides the customer features."""

POSTED_STATE: dict[str, str] = {
    "inv_paid_c": "CAST(0 AS DOUBLE)",
    "inv_credited_c": "CAST(0 AS DOUBLE)",
    "inv_payments_n": "0",
    "inv_open_dispute": "FALSE",
    "inv_active_promise": "FALSE",
    "inv_broken_promise": "FALSE",
}
"""The invoice-state inputs of a posted invoice: nothing applied, no dispute, no promise."""

_POSTED_INPUTS = {"as_of": "DATE", "issue_date": "DATE", "due_date": "DATE", "amount": "DOUBLE",
                  "currency": "VARCHAR", "paperless": "BOOLEAN", "rate": "DOUBLE",
                  **dict.fromkeys(CALENDAR_COLUMNS, "DOUBLE")}

PREPARED_ROWS = 48
"""Batches of at most this many rows run the prepared statement with literal values, larger
ones the one over the temporary table (quiet machine, demo models: 16 rows 10.8 against 17.7
ms, 48 rows 16.5 against 19.2, 64 rows 21.8 against 19.5)."""
_ARROW_TYPES = {"DATE": pa.date32(), "VARCHAR": pa.string(), "BOOLEAN": pa.bool_(),
                "DOUBLE": pa.float64()}

COLD_START_KEY = 0
"""History key of the cold-start row (known customers have keys from 1)."""


def posted_specs() -> list[FeatureSpec]:
    """The snapshot features a posted invoice has of its own: kinds `invoice` and `state`."""
    return [s for s in feature_catalog("snapshot") if s.kind in ("invoice", "state")]


def customer_specs() -> list[FeatureSpec]:
    """The customer features (history, exposure, activity, attributes)."""
    return feature_catalog("customer")


def history_measures() -> list[str]:
    """Aggregate columns (`<measure>__<window>`) the posted-invoice features read."""
    return [measure_column(m, w) for m, w in needed_measures(posted_specs())]


def history_habits() -> list[str]:
    """Habit columns (`features.habits.HABIT_COLUMNS`) the posted-invoice features read."""
    return [c for c in HABIT_COLUMNS
            if any(re.search(rf"\b{c}\b", s.expression()) for s in posted_specs())]


@cache
def history_inputs() -> tuple[str, ...]:
    """Every per-customer number the posted-invoice statement reads: aggregates and habits
    (worked out from the catalog once: every scored request reads them)."""
    return (*history_measures(), *history_habits())


def customer_history(ledger: Ledger, as_of: dt.date,
                     features: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per customer: its features as of `as_of` and the inputs posted invoices need.

    `features` is `build_customer_features(ledger, as_of)` when already built. Columns: those
    of the customer features, then `rate`, `credit_limit_c`, `customer_currency` and
    `history_inputs()`.
    """
    if features is None:
        features = build_customer_features(ledger, as_of)
    pairs = needed_measures(posted_specs())
    stages = [*event_stages(before=as_of), asof_hist_stage(posted_specs(), as_of)]
    measures = ", ".join([*(f"h.{measure_column(m, w)}" for m, w in pairs),
                          *(f"b.{c}" for c in history_habits())])
    final = f"""
        SELECT c.customer_id, c.rate, c.credit_limit_c, k.currency AS customer_currency,
               {measures}
        FROM cust c JOIN hist h USING (ck) JOIN habit b USING (ck)
        JOIN (SELECT customer_id, currency FROM customers) k USING (customer_id)
        ORDER BY customer_id"""
    cursor = ledger.con.cursor()
    try:
        inline = materialize(cursor, stages)
        cursor.register("habit", customer_habits(cursor, ledger, as_of))
        inputs = cursor.sql(with_query(inline, final)).to_arrow_table().to_pandas()
    finally:
        cursor.close()
    inputs["customer_id"] = inputs["customer_id"].astype(features["customer_id"].dtype)
    return features.merge(inputs, on="customer_id", how="left", validate="one_to_one")


def check_history_columns(columns: Iterable[str]) -> None:
    """ValueError naming what a customer history lacks for the current feature catalog."""
    names = set(columns)
    needed = ["customer_id", "as_of", *(s.name for s in customer_specs()), *HISTORY_INPUTS,
              *history_inputs()]
    missing = [c for c in needed if c not in names]
    if missing:
        raise ValueError(f"the snapshot's customer history lacks {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''} (written by another version "
                         "of the features?): run `o2c score` again")


class PostedFeatures:
    """Feature rows for posted invoices: customer history joined with the catalog's invoice
    and state expressions, in one DuckDB query per call (thread-safe: a cursor per call)."""

    def __init__(self, history: pd.DataFrame, rates: dict[str, float] | None = None) -> None:
        """`history` is `customer_history(...)` of one as-of date; `rates` the reporting-
        currency rate of each currency, for invoices of customers without history."""
        self.columns = [s.name for s in customer_specs()]
        self.rates = dict(rates or {})
        check_history_columns(history.columns)
        self._con = duckdb.connect()
        self._local = threading.local()
        keyed = history.reset_index(drop=True)
        self.keys: dict[str, int] = {cid: i + 1 for i, cid in enumerate(keyed["customer_id"])}
        self.currency = dict(zip(keyed["customer_id"], keyed["customer_currency"], strict=True))
        table = keyed[["customer_id", "as_of", *self.columns, *HISTORY_INPUTS,
                       *history_inputs()]].copy()
        table.insert(0, "hk", range(1, len(table) + 1))
        self._con.register("history_frame", pa.Table.from_pandas(table, preserve_index=False))
        self._con.execute("CREATE TABLE history AS SELECT * FROM history_frame")
        self._con.unregister("history_frame")
        self._con.execute(f"INSERT INTO history BY NAME ({self._cold_start_sql()})")
        self.inputs = self._con.sql(
            f"SELECT rate, {', '.join(history_inputs())} FROM history ORDER BY hk"
        ).to_arrow_table().to_pandas()
        """The inputs of the posted-invoice features by history key."""
        self._con.execute("SET threads = 1")
        self.customers = self._con.sql(
            f"SELECT hk, {', '.join(self.columns)} FROM history ORDER BY hk"
        ).to_arrow_table().to_pandas().drop(columns="hk")
        """Customer features by history key (row 0: the cold-start customer)."""
        self._inputs = {**_POSTED_INPUTS, **dict.fromkeys(history_inputs(), "DOUBLE")}
        """The posted-invoice statement's inputs and their SQL types."""

    def _cold_start_sql(self) -> str:
        """The history row of a customer without history: neutral aggregates, no attributes."""
        pairs = needed_measures([*customer_specs(), *posted_specs()])
        neutral = ", ".join(
            f"CAST({MEASURES[m].neutral} AS {MEASURES[m].sql_type}) AS {measure_column(m, w)}"
            for m, w in pairs)
        unknown = ("CAST(NULL AS VARCHAR) AS country, CAST(NULL AS VARCHAR) AS industry, "
                   "CAST(NULL AS VARCHAR) AS segment, CAST(NULL AS DOUBLE) AS payment_terms_days, "
                   "CAST(NULL AS DATE) AS created_date, CAST(NULL AS DOUBLE) AS credit_limit_c, "
                   "CAST(1.0 AS DOUBLE) AS rate, CAST(NULL AS VARCHAR) AS customer_currency, "
                   + ", ".join(f"CAST(NULL AS DOUBLE) AS {c}" for c in HABIT_COLUMNS))
        as_of = "(SELECT max(as_of) FROM history)"
        return f"""
            SELECT {COLD_START_KEY} AS hk, CAST(NULL AS VARCHAR) AS customer_id,
                   CAST({as_of} AS TIMESTAMP) AS as_of, {projection(customer_specs())},
                   rate, credit_limit_c, customer_currency,
                   {", ".join(history_inputs())}
            FROM (SELECT {neutral}, {unknown}, CAST({as_of} AS DATE) AS as_of)"""

    def _posted_sql(self, rows: str) -> str:
        """The catalog's invoice and state expressions over `rows`, a relation of the posted
        inputs (`self._inputs`)."""
        state = ", ".join(f"{expr} AS {name}" for name, expr in POSTED_STATE.items())
        return f"""
            SELECT {projection(posted_specs())}
            FROM (
                SELECT *, {cents('amount')} AS amount_c, {cents('amount')} AS inv_open_c, {state}
                FROM {rows}
            )"""

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the connection (a DuckDB connection is not thread-safe),
        with the statement prepared twice in it, each planned once: `posted_features` over
        list literals, `posted_table_features` over its own temporary table `posted_rows`."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            unnest = ", ".join(f"unnest(${i}::{kind}[]) AS {name}"
                               for i, (name, kind) in enumerate(self._inputs.items(), start=1))
            cursor.execute(f"PREPARE posted_features AS "
                           f"{self._posted_sql(f'(SELECT {unnest})')}")
            columns = ", ".join(f"{name} {kind}" for name, kind in self._inputs.items())
            cursor.execute(f"CREATE TEMP TABLE posted_rows ({columns})")
            cursor.execute(f"PREPARE posted_table_features AS {self._posted_sql('posted_rows')}")
            self._local.cursor = cursor
        return cursor

    def _run(self, values: dict[str, list]) -> dict[str, np.ndarray]:
        """The statement over the inputs, never planned again: a few rows as list literals
        (about 3 ms for one invoice), more through the cursor's temporary table (about 18 ms
        for 17 rows as for 1,000: a cost per execution, not per row)."""
        cursor = self._cursor()
        if len(values["amount"]) <= PREPARED_ROWS:
            arguments = ", ".join(_list_literal(values[c], kind)
                                  for c, kind in self._inputs.items())
            return cursor.execute(f"EXECUTE posted_features({arguments})").fetchnumpy()
        batch = pa.table({c: pa.array(values[c], _ARROW_TYPES[kind])
                          for c, kind in self._inputs.items()})
        cursor.execute("DELETE FROM posted_rows")
        cursor.register("posted_batch", batch)
        try:
            cursor.execute("INSERT INTO posted_rows SELECT * FROM posted_batch")
        finally:
            cursor.unregister("posted_batch")
        return cursor.execute("EXECUTE posted_table_features").fetchnumpy()

    def build(self, posted: pd.DataFrame) -> pd.DataFrame:
        """Features of posted invoices, one row each in their order.

        `posted`: `invoice_id`, `customer_id`, `issue_date`, `due_date`, `amount`, `currency`
        and `as_of` (the date each is scored as of), optionally `paperless` (None: unknown).
        Returns the keys, `cold_start`, the customer features and the invoice and state
        features (snapshot dtypes).
        """
        keys = np.array([self.keys.get(c, COLD_START_KEY) for c in posted["customer_id"]],
                        dtype=np.int64)
        cold = keys == COLD_START_KEY
        rate = self.inputs["rate"].to_numpy()[keys]
        if cold.any():
            rate = rate.copy()
            rate[cold] = [self.rates.get(c, 1.0) for c in posted["currency"].to_numpy()[cold]]
        dates = {c: pd.to_datetime(posted[c]).to_numpy().astype("datetime64[D]")
                 for c in ("as_of", "issue_date", "due_date")}
        calendar = due_calendar(pa.array(self.customers["country"].to_numpy()[keys],
                                         pa.string()),
                                pa.array(dates["due_date"]).cast(pa.date32()))
        values = {
            **{c: d.astype(object).tolist() for c, d in dates.items()},
            **{c: calendar[c].tolist() for c in CALENDAR_COLUMNS},
            "amount": posted["amount"].to_numpy(dtype=float).tolist(),
            "currency": posted["currency"].astype(str).tolist(),
            "paperless": _flags(posted.get("paperless"), len(posted)),
            "rate": rate.astype(float).tolist(),
            **{c: self.inputs[c].to_numpy()[keys].astype(float).tolist()
               for c in history_inputs()},
        }
        own = self._run(values)
        frame = pd.DataFrame({
            "invoice_id": posted["invoice_id"].astype(str).to_numpy(),
            "customer_id": posted["customer_id"].astype(str).to_numpy(),
            **{c: dates[c].astype("datetime64[ns]") for c in ("as_of", "issue_date", "due_date")},
            "cold_start": cold,
        })
        customers = self.customers.iloc[keys].reset_index(drop=True)
        invoice = pd.DataFrame({name: np.asarray(column) for name, column in own.items()})
        return pd.concat([frame, customers, invoice], axis=1)

    def close(self) -> None:
        """Release the DuckDB connection."""
        self._con.close()


def _flags(column: pd.Series | None, rows: int) -> list[bool | None]:
    """A yes/no column as True, False or None (unknown); all None without the column."""
    if column is None:
        return [None] * rows
    return [None if value is None or value is pd.NA or value != value else bool(value)
            for value in column.tolist()]


def _list_literal(values: list, kind: str) -> str:
    """A DuckDB list literal of dates, strings, flags or doubles (NaN and infinities spelled
    out)."""
    if kind == "BOOLEAN":
        items = ["NULL" if value is None else str(bool(value)).upper() for value in values]
    elif kind == "DATE":
        items = [f"DATE '{value.isoformat()}'" for value in values]
    elif kind == "VARCHAR":
        items = ["'" + str(value).replace("'", "''") + "'" for value in values]
    else:
        items = [repr(float(v)) if math.isfinite(v) else f"'{float(v)}'::DOUBLE" for v in values]
    return f"[{', '.join(items)}]::{kind}[]"


def fx_rates(ledger: Ledger) -> dict[str, float]:
    """Reporting-currency rate of each currency of the ledger (1.0 where it has none)."""
    rows = ledger.con.cursor().sql(
        "SELECT c.currency, coalesce(max(f.rate_to_base), 1.0) FROM "
        "(SELECT DISTINCT currency FROM customers UNION SELECT DISTINCT currency FROM invoices) c "
        "LEFT JOIN fx_rates f USING (currency) GROUP BY c.currency").fetchall()
    return {currency: float(rate) for currency, rate in rows}

