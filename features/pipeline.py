"""The three feature builders: per invoice (training), snapshot (scoring) and per customer.

Every builder reads the ledger's DuckDB connection through a private cursor (its temporary
tables vanish with it) and returns a pandas DataFrame. Columns: the keys and dates, then the
features of `feature_catalog(scope)` in catalog order. float64 features use NaN for missing;
strings use pandas' Arrow-backed `string` dtype (compact for millions of ids); dates are
`datetime64[ns]`; the snapshot's `has_*` flags are bool. Rows are sorted by
(customer_id, invoice_id), customer frames by customer_id.

Point in time: a row as of T uses only facts dated before T (see `features.events`).

Large ledgers: the builders use the connection's DuckDB settings. The per-invoice table is
built a group of customers at a time (`CHUNK_INVOICES`); write it with
`write_invoice_features` (bounded memory: 10M invoices in about 55 s and 5 GiB through the
CLI) rather than holding it in pandas (about 0.5 GB per million invoices).
benchmarks/bench_features.py has the figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.asof import AsOfAggregates, epoch_days
from features.calendar import due_calendar
from features.catalog import feature_catalog
from features.compile import asof_hist_stage, needed_measures, projection
from features.events import MEASURES, base_stages, event_sources, event_stages
from features.habits import PopulationPrior, habit_table, settlements_sql
from features.sql import Stage, date_literal, materialize, with_query
from ledger.loader import Ledger

INVOICE_KEYS: tuple[str, ...] = ("invoice_id", "customer_id", "as_of", "issue_date", "due_date")
"""Leading columns of per-invoice and snapshot frames."""

CUSTOMER_KEYS: tuple[str, ...] = ("customer_id", "as_of")
"""Leading columns of customer frames."""

CHUNK_INVOICES = 750_000
"""Per-invoice features are built for groups of customers holding about this many invoices
at a time, which bounds memory on large ledgers (two groups are in flight: one read by
DuckDB, one worked by numpy; 1,500,000 took 8 GiB on 10M invoices, 750,000 5 GiB)."""


def output_columns(scope: str) -> list[str]:
    """Column names a builder returns: keys, then features ('invoice', 'snapshot', 'customer')."""
    keys = CUSTOMER_KEYS if scope == "customer" else INVOICE_KEYS
    return [*keys, *(s.name for s in feature_catalog(scope))]


# --------------------------------------------------------------------------- per invoice


def build_invoice_features(
    ledger: Ledger, *, start: dt.date | None = None, end: dt.date | None = None,
    chunk_invoices: int = CHUNK_INVOICES,
) -> pd.DataFrame:
    """One row per invoice, with the features as of its issue date (the training table).

    Columns: `invoice_id`, `customer_id`, `as_of` (= `issue_date`), `issue_date`, `due_date`,
    then `feature_catalog("invoice")`. Only invoices issued in [start, end) when given; their
    features still use all history before their issue date. No labels.
    """
    tables = list(invoice_feature_batches(ledger, start=start, end=end,
                                          chunk_invoices=chunk_invoices))
    return _to_pandas(pa.concat_tables(tables))


def write_invoice_features(
    ledger: Ledger, path: str | Path, *, start: dt.date | None = None,
    end: dt.date | None = None, chunk_invoices: int = CHUNK_INVOICES,
) -> int:
    """Write `build_invoice_features` to one Parquet file, a chunk at a time; return the rows.

    Memory stays bounded by the chunk size, whatever the ledger's size. A chunk is written on
    a second thread while the next one is built (Arrow's writer releases the GIL); only the
    text and date columns are dictionary-encoded (floats rarely repeat, and trying costs a
    third of the writing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    writer: pq.ParquetWriter | None = None
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as background:
        try:
            for table in invoice_feature_batches(ledger, start=start, end=end,
                                                 chunk_invoices=chunk_invoices):
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema, use_dictionary=[
                        field.name for field in table.schema
                        if not pa.types.is_floating(field.type)])
                if pending is not None:
                    pending.result()
                pending = background.submit(writer.write_table, table)
                rows += table.num_rows
            if pending is not None:
                pending.result()
        finally:
            if pending is not None:
                pending.exception()  # wait: the writer is closed after the last write
            if writer is not None:
                writer.close()
    return rows


def invoice_feature_batches(
    ledger: Ledger, *, start: dt.date | None = None, end: dt.date | None = None,
    chunk_invoices: int = CHUNK_INVOICES,
) -> Iterator[pa.Table]:
    """Per-invoice features as Arrow tables, one per group of customers, in output order.

    Each group's invoices are read once, sorted by (customer_id, invoice_id), with their
    customer's columns; the as-of aggregates, habits and calendar inputs are computed in numpy
    in that order and set beside them, and the features are projected from that one table
    (no join, no sort of the wide rows). While numpy works on one group, DuckDB reads the
    next one's events in a second cursor on another thread (`_read_group`).
    """
    if chunk_invoices < 1:
        raise ValueError(f"chunk_invoices must be an integer >= 1, got {chunk_invoices!r}")
    specs = feature_catalog("invoice")
    pairs = needed_measures(specs)
    issue_range = _issue_range(start, end)
    final = (f"SELECT invoice_id, customer_id, as_of, issue_date, due_date, {projection(specs)}, "
             f"_row FROM rows")
    prior = _population_prior(ledger)
    cursors = (ledger.con.cursor(), ledger.con.cursor())
    pending: Future[_Group] | None = None
    try:
        cust, *_ = base_stages()
        for cursor in cursors:
            materialize(cursor, [cust])
        groups = _customer_chunks(cursors[0], issue_range, chunk_invoices)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckdb") as reader:
            def read(index: int) -> _Group:
                return _read_group(cursors[index % 2], groups[index], pairs, issue_range)

            pending = reader.submit(read, 0)
            for index in range(len(groups)):
                group = pending.result()
                pending = reader.submit(read, index + 1) if index + 1 < len(groups) else None
                rows = _group_rows(group, pairs, prior)
                del group
                cursor = cursors[index % 2]
                cursor.register("rows", rows)
                try:
                    yield _in_row_order(cursor.sql(final).to_arrow_table())
                finally:
                    cursor.unregister("rows")
                    del rows
    finally:
        if pending is not None:
            pending.exception()  # let the reader finish before its cursor closes
        for cursor in cursors:
            cursor.close()


@dataclass
class _Group:
    """What DuckDB reads of one group of customers: their invoices with their customer's
    columns (sorted by customer and invoice id), each event source's events with the (measure,
    window) pairs they hold, and the settlements."""

    invoices: pa.Table
    events: list[tuple[pa.Table, list[tuple[str, int | None]]]]
    settlements: pa.Table


def _read_group(cursor: duckdb.DuckDBPyConnection, keys: tuple[int, int],
                pairs: list[tuple[str, int | None]], issue_range: str) -> _Group:
    """The base stages of the customers with keys in `keys` (materialized in `cursor`), and
    what the features need of them."""
    stages = base_stages(customers=f"ck BETWEEN {keys[0]} AND {keys[1]}")[1:]
    inline = materialize(cursor, stages, replace=True)
    invoices = cursor.sql(f"""
        SELECT *, issue_date AS as_of FROM inv JOIN cust USING (ck)
        WHERE {issue_range} ORDER BY ck, invoice_id""").to_arrow_table()
    events = [(cursor.sql(with_query(inline, sql)).to_arrow_table(), mine)
              for sql, mine in _event_queries(pairs)]
    return _Group(invoices, events, cursor.sql(settlements_sql()).to_arrow_table())


def _group_rows(group: _Group, pairs: list[tuple[str, int | None]],
                prior: PopulationPrior) -> pa.Table:
    """The group's invoices with every input of the features beside them, and `_row`."""
    invoices = group.invoices
    q_ck, q_day = invoices["ck"].to_numpy(), epoch_days(invoices["as_of"])
    aggregates = AsOfAggregates(q_ck, q_day, pairs)
    while group.events:
        aggregates.add(*group.events.pop(0))
    habits = habit_table(group.settlements, prior, q_ck, q_day)
    calendar = due_calendar(invoices["country"], invoices["due_date"])
    for name, column in (*aggregates.columns().items(),
                         *zip(habits.column_names, habits.columns, strict=True),
                         *((n, pa.array(v, pa.float64())) for n, v in calendar.items()),
                         ("_row", pa.array(np.arange(len(q_ck))))):
        invoices = invoices.append_column(name, column)
    return invoices


def _in_row_order(table: pa.Table) -> pa.Table:
    """`table` sorted by its `_row` column, which is then dropped. A SELECT from one table
    keeps its order (DuckDB's insertion order), so this is a check, unless the connection
    sets `preserve_insertion_order = false`."""
    row = table["_row"].to_numpy()
    table = table.drop_columns("_row")
    if len(row) > 1 and np.any(row[1:] < row[:-1]):
        table = table.take(np.argsort(row, kind="stable"))
    return table


def _event_queries(
    pairs: list[tuple[str, int | None]],
) -> list[tuple[str, list[tuple[str, int | None]]]]:
    """Per event source that changes a needed measure: the SELECT of its events sorted by
    (ck, d), with its own measures only (sums as BIGINT, 0 for NULL), and the (measure,
    window) pairs it contributes to. Sorting each source's few columns apart costs about
    half of sorting the whole event ledger, whose rows carry every measure (mostly NULL)."""
    queries = []
    for source in event_sources():
        mine = [pair for pair in pairs if pair[0] in source.measures]
        if not mine:
            continue
        columns = ", ".join(
            f"CAST(coalesce({m}, 0) AS BIGINT) AS {m}" if MEASURES[m].agg == "sum" else m
            for m in dict.fromkeys(measure for measure, _ in mine))
        queries.append((f"SELECT ck, d, {columns} FROM ({source.select()}) ORDER BY ck, d",
                        mine))
    return queries


_CALENDAR_JOIN = "LEFT JOIN cal USING (country, due_date)"
"""Joins the calendar inputs (`features.calendar`) of each (country, due date) pair."""


def _population_prior(ledger: Ledger) -> PopulationPrior:
    """The population prior of the habit features, computed in a cursor of its own."""
    cursor = ledger.con.cursor()
    try:
        return PopulationPrior(cursor)
    finally:
        cursor.close()


def _calendar(cursor: duckdb.DuckDBPyConnection, inline: list[Stage], invoices: str,
              where: str) -> pa.Table:
    """Calendar inputs of the distinct (customer country, due date) pairs of `invoices`."""
    pairs = cursor.sql(with_query(inline, f"""
        SELECT DISTINCT c.country, i.due_date FROM {invoices} i JOIN cust c USING (ck)
        WHERE {where}""")).to_arrow_table()
    columns = due_calendar(pairs["country"], pairs["due_date"])
    return pa.table({"country": pairs["country"], "due_date": pairs["due_date"],
                     **{name: pa.array(v, pa.float64()) for name, v in columns.items()}})


def customer_habits(cursor: duckdb.DuckDBPyConnection, ledger: Ledger,
                     as_of: dt.date) -> pa.Table:
    """Habit columns of every customer as of `as_of` (`inv_state` materialized in `cursor`)."""
    keys = cursor.sql("SELECT ck FROM cust ORDER BY ck").to_arrow_table()["ck"].to_numpy()
    day = np.full(len(keys), (as_of - dt.date(1970, 1, 1)).days, dtype=np.int32)
    habits = habit_table(cursor.sql(settlements_sql(latest_only=True)).to_arrow_table(),
                         _population_prior(ledger), keys, day)
    return habits.add_column(0, "ck", pa.array(keys))


def _issue_range(start: dt.date | None, end: dt.date | None) -> str:
    conditions = ["TRUE"]
    if start is not None:
        conditions.append(f"issue_date >= {date_literal(start)}")
    if end is not None:
        conditions.append(f"issue_date < {date_literal(end)}")
    return " AND ".join(conditions)


def _customer_chunks(cursor: duckdb.DuckDBPyConnection, issue_range: str,
                     chunk_invoices: int) -> list[tuple[int, int]]:
    """Ranges of customer keys holding about `chunk_invoices` invoices each (at least one)."""
    counts = cursor.sql(f"""
        SELECT c.ck, count(i.invoice_id) AS n FROM cust c
        LEFT JOIN (SELECT customer_id, invoice_id FROM invoices WHERE {issue_range}) i
            USING (customer_id)
        GROUP BY c.ck ORDER BY c.ck""").fetchnumpy()
    keys, n = counts["ck"], np.asarray(counts["n"])
    if len(keys) == 0:
        return [(1, 0)]
    group = np.cumsum(n) // chunk_invoices
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    ends = np.append(starts[1:], len(keys)) - 1
    return [(int(keys[s]), int(keys[e])) for s, e in zip(starts, ends, strict=True)]


# --------------------------------------------------------------------------- as of one date


def snapshot_stages(as_of: dt.date) -> tuple[list[Stage], str]:
    """Stages and final SELECT of `build_snapshot`."""
    t = date_literal(as_of)
    specs = feature_catalog("snapshot")
    stages = [
        *event_stages(before=as_of),
        asof_hist_stage(specs, as_of),
        Stage("open_inv", f"""
            SELECT s.invoice_id, s.ck, s.issue_date, s.due_date, i.currency, i.paperless,
                   s.amount_c,
                   {t} AS as_of,
                   coalesce(a.paid_c, 0) AS inv_paid_c,
                   coalesce(a.credited_c, 0) AS inv_credited_c,
                   coalesce(a.payments_n, 0) AS inv_payments_n,
                   s.amount_c - coalesce(a.paid_c, 0) - coalesce(a.credited_c, 0)
                   AS inv_open_c,
                   s.invoice_id IN (
                       SELECT invoice_id FROM disputes
                       WHERE opened_date < {t} AND coalesce(resolved_date >= {t}, TRUE)
                   ) AS inv_open_dispute,
                   s.invoice_id IN (
                       SELECT invoice_id FROM prom
                       WHERE promised_date >= {t} AND invoice_id IS NOT NULL
                   ) OR s.ck IN (
                       SELECT ck FROM prom WHERE promised_date >= {t} AND invoice_id IS NULL
                   ) AS inv_active_promise,
                   s.invoice_id IN (
                       SELECT invoice_id FROM prom_judged
                       WHERE promised_date < {t} AND NOT kept AND invoice_id IS NOT NULL
                   ) OR coalesce(s.issue_date <= b.last_broken_created, FALSE)
                   AS inv_broken_promise
            FROM inv_state s JOIN (SELECT ik, currency, paperless FROM inv) i USING (ik)
            LEFT JOIN (
                SELECT ik, sum(pay_c) AS paid_c, sum(cn_c) AS credited_c,
                       sum(pay_n) AS payments_n
                FROM app_cum
                WHERE ik IN (SELECT ik FROM inv_state WHERE settle_date IS NULL)
                GROUP BY ik
            ) a USING (ik)
            LEFT JOIN (
                SELECT ck, max(created_date) AS last_broken_created FROM prom_judged
                WHERE promised_date < {t} AND NOT kept AND invoice_id IS NULL GROUP BY ck
            ) b USING (ck)
            WHERE s.settle_date IS NULL"""),
    ]
    final = f"""
        SELECT invoice_id, customer_id, as_of, issue_date, due_date, {projection(specs)}
        FROM open_inv JOIN cust c USING (ck) JOIN hist h USING (ck) JOIN habit USING (ck)
        {_CALENDAR_JOIN}
        ORDER BY customer_id, invoice_id"""
    return stages, final


def customer_stages(as_of: dt.date) -> tuple[list[Stage], str]:
    """Stages and final SELECT of `build_customer_features`."""
    specs = feature_catalog("customer")
    stages = [*event_stages(before=as_of), asof_hist_stage(specs, as_of)]
    final = f"""
        SELECT customer_id, as_of, {projection(specs)}
        FROM (SELECT *, {date_literal(as_of)} AS as_of FROM cust) c JOIN hist h USING (ck)
        JOIN habit USING (ck)
        ORDER BY customer_id"""
    return stages, final


def build_snapshot(ledger: Ledger, as_of: dt.date) -> pd.DataFrame:
    """One row per invoice open at `as_of`: customer features and the invoice's own state.

    Open = issued before `as_of` and not settled by payments and credit notes dated before
    it. Columns: `invoice_id`, `customer_id`, `as_of`, `issue_date`, `due_date`, then
    `feature_catalog("snapshot")`: customer history and exposure as of `as_of`, invoice
    features, and the invoice's state (`currency`, `open_amount`, `open_amount_base`,
    `days_past_due`, `age_days`, `paid_share`, `credited_share`, `payments_count`,
    `has_open_dispute`, `has_active_promise`, `has_broken_promise`).
    """
    return _run(ledger, *snapshot_stages(as_of), as_of=as_of, calendar=True)


def build_customer_features(ledger: Ledger, as_of: dt.date) -> pd.DataFrame:
    """One row per customer of the ledger (with or without invoices), features as of `as_of`.

    Columns: `customer_id`, `as_of`, then `feature_catalog("customer")`.
    """
    return _run(ledger, *customer_stages(as_of), as_of=as_of)


def invoice_settlements(ledger: Ledger, *, before: dt.date | None = None) -> pd.DataFrame:
    """Per invoice (issued before `before`, all if None): its settlement date, if settled.

    Columns `invoice_id`, `customer_id`, `issue_date`, `due_date`, `amount`, `settle_date`
    (NaT when payments and credit notes dated before `before` do not cover the amount): the
    settlement rule of every feature, for labels. Sorted by (customer_id, invoice_id).
    """
    final = """
        SELECT s.invoice_id, c.customer_id, s.issue_date, s.due_date,
               s.amount_c / 100 AS amount, s.settle_date
        FROM inv_state s JOIN cust c USING (ck)
        ORDER BY customer_id, invoice_id"""
    return _run(ledger, base_stages(before), final)


def _run(ledger: Ledger, stages: list[Stage], final: str, *, as_of: dt.date | None = None,
         calendar: bool = False) -> pd.DataFrame:
    """Materialize the stages and run `final`; with `as_of`, the customers' habit columns are
    table `habit`, with `calendar` the open invoices' calendar inputs table `cal`."""
    cursor = ledger.con.cursor()
    try:
        inline = materialize(cursor, stages)
        if as_of is not None:
            cursor.register("habit", customer_habits(cursor, ledger, as_of))
        if calendar:
            cursor.register("cal", _calendar(cursor, inline, "inv_state",
                                             "i.settle_date IS NULL"))
        return _to_pandas(cursor.sql(with_query(inline, final)).to_arrow_table())
    finally:
        cursor.close()


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas: compact strings, NaN floats, datetime64[ns] dates.

    The Arrow buffers (owned per batch by DuckDB) stay alive until the conversion ends, so
    the peak is about twice the frame.
    """
    return table.to_pandas(
        types_mapper=_string_mapper, date_as_object=False, coerce_temporal_nanoseconds=True,
        split_blocks=True,
    )


def _string_mapper(arrow_type: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or \
            pa.types.is_string_view(arrow_type):
        return pd.StringDtype("pyarrow")
    return None
