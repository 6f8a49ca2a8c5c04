"""Training and validation examples: features as of a date, labels only once matured.

Label: an invoice is late when it is settled more than `grace_days` after its due date.
Maturity as of a cut-off C (facts dated before C are known): the outcome is known when the
invoice was settled before C, or is still open and more than `grace_days` past due at C.
Examples are kept by cohort: an invoice is used only when its due date + grace is before C,
so that every invoice of the cohort has matured. (Keeping invoices that happen to be settled
early, while dropping the open ones of the same cohort, would bias the labels towards fast
payers; the rows left out are counted and logged.)

Two kinds of example share one feature layout:
- at issue: `build_invoice_features`, one row per invoice as of its issue date, with the
  invoice-state columns set to their value at issue (nothing paid, no dispute, no promise);
- snapshot: `build_snapshot` at periodic as-of dates, open invoices not yet late at that date,
  so the model also learns to score invoices that are days or weeks old.

Memory: the per-invoice rows are written to a temporary Parquet file a group of customers at
a time (`write_invoice_features`), never held in memory whole; DuckDB reads them, picks each
window's rows, joins their labels, adds the snapshot rows, sorts them and writes the examples
to Parquet, which become a pandas frame once, the Arrow columns freed as they are converted
(figures: benchmarks/RESULTS.md, "Training the late-payment model").
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features import build_snapshot, invoice_settlements, write_invoice_features
from features.catalog import values_at_issue
from ledger.loader import Ledger
from ledger.summary import ledger_end

STATE_AT_ISSUE: dict[str, object] = dict(values_at_issue())
"""Invoice-state columns of the snapshot and their value on the day an invoice is issued, from
the catalog's `at_issue` (`days_past_due` at issue is minus the payment terms, computed from
the dates)."""


CHUNK_INVOICES = 500_000
"""The per-invoice features are computed for groups of customers holding about this many
invoices at a time: DuckDB's working memory follows the group's size (the features do not)."""


@dataclass
class ExampleSet:
    """Feature rows with labels, and what was left out on the way."""

    frame: pd.DataFrame
    """Features plus `kind` ('issue' or 'snapshot') and `late` (bool)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Rows considered and left out, by reason (logged with the run)."""


@dataclass
class TaskExamples:
    """A model task's out-of-time examples (`training.tasks`), each frame with its label."""

    train: pd.DataFrame
    """Rows the model is fitted on: facts dated before `trained_before` only."""
    valid: pd.DataFrame
    """Rows it is judged on, from `valid_from` on (labels known by the ledger's end)."""
    trained_before: dt.date
    """Every fact the training rows (features and labels) use is dated before this day."""
    valid_from: dt.date
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Rows considered and left out, by split and reason (logged with the run)."""
    params: dict[str, object] = field(default_factory=dict)
    """What else identifies the examples (windows, horizon), logged as run parameters."""
    model_metadata: dict[str, object] = field(default_factory=dict)
    """What the model must carry about its label (a horizon chosen from the data)."""


def invoice_outcomes(ledger: Ledger, *, known_before: dt.date) -> pd.DataFrame:
    """Per invoice issued before `known_before`: due date and settlement date if settled by then.

    Uses only payments and credit notes dated before `known_before`, with the settlement rule
    of the features (the first day payments plus credit notes cover the amount).
    """
    settlements = invoice_settlements(ledger, before=known_before)
    return settlements[["invoice_id", "due_date", "settle_date"]]


def label_outcomes(outcomes: pd.DataFrame, *, cutoff: dt.date, grace_days: int) -> pd.DataFrame:
    """Add `matured` (the invoice's cohort is fully observable by `cutoff`) and `late`."""
    cutoff_ts = pd.Timestamp(cutoff)
    grace = pd.Timedelta(days=grace_days)
    due = pd.to_datetime(outcomes["due_date"])
    settled = pd.to_datetime(outcomes["settle_date"])
    labelled = outcomes.copy()
    labelled["matured"] = due + grace < cutoff_ts
    labelled["late"] = (settled - due > grace) | settled.isna()
    return labelled


def issue_examples(features: pd.DataFrame) -> pd.DataFrame:
    """Per-invoice feature rows completed with the invoice-state columns at issue (in place)."""
    rows = features
    rows["days_past_due"] = (rows["as_of"] - rows["due_date"]).dt.days.astype(float)
    for column, value in STATE_AT_ISSUE.items():
        rows[column] = value
    rows["kind"] = "issue"
    return rows


def snapshot_dates(
    first: dt.date, last: dt.date, *, every_days: int, max_dates: int, warmup_days: int = 90
) -> list[dt.date]:
    """As-of dates every `every_days` going back from `last` (inclusive), at most `max_dates`,
    none earlier than `warmup_days` after `first` (customers need some history)."""
    dates = []
    day = last
    while len(dates) < max_dates and day >= first + dt.timedelta(days=warmup_days):
        dates.append(day)
        day -= dt.timedelta(days=every_days)
    return sorted(dates)


def snapshot_examples(
    ledger: Ledger, dates: list[dt.date], *, grace_days: int
) -> pd.DataFrame:
    """Open invoices not yet more than `grace_days` past due, at each of `dates`."""
    frames = []
    for day in dates:
        snapshot = build_snapshot(ledger, day)
        frames.append(snapshot[snapshot["days_past_due"] <= grace_days])
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    rows["kind"] = "snapshot"
    return rows


@dataclass
class SplitExamples:
    """Out-of-time examples: train on what was known before `valid_from`, validate after."""

    train: ExampleSet
    valid: ExampleSet
    valid_from: dt.date
    end: dt.date


def build_examples(
    ledger: Ledger, *, valid_from: dt.date, grace_days: int, snapshot_every_days: int,
    snapshot_max_dates: int,
) -> SplitExamples:
    """Training examples (as of dates before `valid_from`, labels known before it) and
    validation examples (from `valid_from` on, labels known by the ledger's end)."""
    end = ledger_end(ledger)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if end is None or first is None or not first < valid_from < end:
        raise ValueError(f"valid_from {valid_from} must fall inside the ledger's dates "
                         f"({first} to {end})")
    with tempfile.TemporaryDirectory(prefix="o2c-examples-") as folder:
        features = Path(folder) / "invoices.parquet"
        write_invoice_features(ledger, features, chunk_invoices=CHUNK_INVOICES)
        train = examples_between(ledger, features, first, valid_from, grace_days=grace_days,
                                 every_days=snapshot_every_days,
                                 max_dates=snapshot_max_dates)
        valid = examples_between(ledger, features, valid_from, end, grace_days=grace_days,
                                 warmup_days=0, every_days=snapshot_every_days,
                                 max_dates=max(1, snapshot_max_dates // 4))
    return SplitExamples(train=train, valid=valid, valid_from=valid_from, end=end)


def examples_between(
    ledger: Ledger, features: Path, start: dt.date, cutoff: dt.date, *,
    grace_days: int, every_days: int, max_dates: int, warmup_days: int = 90,
) -> ExampleSet:
    """Examples as of dates in [start, cutoff) whose labels have matured by `cutoff`.

    Labels use only facts dated before `cutoff`; features only facts before their as-of date.
    `features` is the Parquet file of the per-invoice rows (`write_invoice_features`); the
    invoice-state columns at issue are added here (`issue_examples`' values).
    """
    outcomes = label_outcomes(invoice_outcomes(ledger, known_before=cutoff), cutoff=cutoff,
                              grace_days=grace_days)
    dates = [d for d in snapshot_dates(start, cutoff - dt.timedelta(days=1),
                                       every_days=every_days, max_dates=max_dates,
                                       warmup_days=warmup_days) if d > start]
    snapshots = snapshot_examples(ledger, dates, grace_days=grace_days) if dates else None
    cursor = ledger.con.cursor()
    try:
        cursor.register("outcomes", outcomes[["invoice_id", "matured", "late"]])
        parts = {"issue": _issue_rows(features, start, cutoff)}
        if snapshots is not None:
            cursor.register("snapshots", snapshots)
            parts["snapshot"] = _labelled("snapshots")
        counts: dict[str, int] = {}
        kept = []
        for kind, query in parts.items():
            rows, immature = cursor.sql(
                f"SELECT count(*), count(*) FILTER (NOT matured) FROM ({query})").fetchall()[0]
            counts[f"{kind}_rows"], counts[f"{kind}_immature_left_out"] = rows, immature
            if rows > immature or not kept:
                kept.append(f"SELECT * EXCLUDE (matured) FROM ({query}) WHERE matured")
        with tempfile.TemporaryDirectory(prefix="o2c-examples-") as folder:
            path = Path(folder) / "examples.parquet"
            cursor.execute(f"COPY ({' UNION ALL BY NAME '.join(kept)} "
                           f"ORDER BY as_of, invoice_id) TO {_quoted(path)} (FORMAT parquet)")
            table = pq.read_table(path)
    finally:
        cursor.close()
    return ExampleSet(_to_frame(table), counts)


def _labelled(rows: str) -> str:
    """`rows` with `matured` (false for an invoice without an outcome) and `late`."""
    return (f"SELECT r.*, coalesce(o.matured, false) AS matured, o.late "
            f"FROM {rows} r LEFT JOIN outcomes o USING (invoice_id)")


def _issue_rows(features: Path, start: dt.date, cutoff: dt.date) -> str:
    """Per-invoice rows issued in [start, cutoff) with the state at issue (`issue_examples`)
    and `kind` 'issue', labelled."""
    state = ", ".join(f"{_sql_value(value)} AS {column}"
                      for column, value in STATE_AT_ISSUE.items())
    rows = (f"(SELECT *, CAST(date_diff('day', due_date, as_of) AS DOUBLE) AS days_past_due, "
            f"{state}, 'issue' AS kind FROM read_parquet({_quoted(features)}) "
            f"WHERE issue_date >= DATE '{start}' AND issue_date < DATE '{cutoff}')")
    return _labelled(rows)


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"CAST({float(value)!r} AS DOUBLE)"


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The examples as pandas, the dtypes of the feature builders (strings Arrow-backed,
    dates `datetime64[ns]`, `kind` plain text, `late` bool), freeing the Arrow buffers
    column by column as they are converted."""
    frame = table.to_pandas(
        types_mapper=lambda t: pd.StringDtype("pyarrow") if pa.types.is_string(t)
        or pa.types.is_large_string(t) or pa.types.is_string_view(t) else None,
        date_as_object=False, coerce_temporal_nanoseconds=True, split_blocks=True,
        self_destruct=True)
    frame["kind"] = frame["kind"].astype(object)
    frame["late"] = frame["late"].astype(bool)
    return frame
