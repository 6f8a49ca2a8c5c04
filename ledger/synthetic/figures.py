"""Payment-timing figures of a ledger, to set a generated ledger beside a real export.

`payment_figures(tables, end)` takes a ledger's `invoices`, `payments` and `credit_notes`
(Arrow tables) and returns: the shares of settled invoices paid before, on and after the due
date (1-5, 6-30, over 30 days late), the share of payments dated on a Saturday or Sunday and
the late share of matured invoices by weekday of the due date. An invoice is settled on the
day its payments and credit notes reach its amount; it is late when it is settled after its
due date or not settled before `end`; it is matured when it is due before `end`.

Run `python -m ledger.synthetic.figures LEDGER_DIR` to print them for a ledger folder.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TIMING_BUCKETS = ("before_due", "on_due", "late_1_5", "late_6_30", "late_over_30")


def settlement_days(tables: dict[str, pa.Table]) -> pd.DataFrame:
    """Per invoice (index invoice_id): due_date and settle_date (NaT while not settled)."""
    invoices = tables["invoices"].select(["invoice_id", "due_date", "amount"]).to_pandas()
    applied = pd.concat([
        tables["payments"].select(["invoice_id", "payment_date", "amount"]).to_pandas()
        .rename(columns={"payment_date": "day"}),
        tables["credit_notes"].select(["invoice_id", "issue_date", "amount"]).to_pandas()
        .rename(columns={"issue_date": "day"}),
    ])
    applied["day"] = pd.to_datetime(applied["day"])
    applied = applied.sort_values(["invoice_id", "day"], kind="stable")
    applied["cumulative"] = applied.groupby("invoice_id")["amount"].cumsum()
    owed = invoices.set_index("invoice_id")["amount"]
    reached = applied[applied["cumulative"].to_numpy()
                      >= owed.loc[applied["invoice_id"]].to_numpy() - 0.005]
    settle = reached.groupby("invoice_id")["day"].min()
    frame = invoices.set_index("invoice_id")[["due_date"]]
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    frame["settle_date"] = settle.reindex(frame.index)
    return frame


def payment_figures(tables: dict[str, pa.Table], end: datetime.date) -> dict[str, object]:
    """The payment-timing figures of a ledger whose facts end before `end` (module docstring)."""
    frame = settlement_days(tables)
    settled = frame.dropna(subset=["settle_date"])
    days_late = (settled["settle_date"] - settled["due_date"]).dt.days.to_numpy()
    buckets = np.select([days_late < 0, days_late == 0, days_late <= 5, days_late <= 30],
                        [0, 1, 2, 3], default=4)
    timing = np.bincount(buckets, minlength=5) / max(len(buckets), 1)
    payment_days = pd.to_datetime(tables["payments"]["payment_date"].to_pandas())
    matured = frame[frame["due_date"] < pd.Timestamp(end)]
    late = (matured["settle_date"].isna() | (matured["settle_date"] > matured["due_date"]))
    by_weekday = late.groupby(matured["due_date"].dt.weekday).mean()
    weekend_due = matured["due_date"].dt.weekday >= 5
    return {
        "invoices": len(frame),
        "settled": len(settled),
        "matured": len(matured),
        "timing": dict(zip(TIMING_BUCKETS, (round(float(s), 4) for s in timing), strict=True)),
        "weekend_payment_share": round(float((payment_days.dt.weekday >= 5).mean()), 4),
        "late_share": round(float(late.mean()), 4),
        "late_share_due_weekend": round(float(late[weekend_due].mean()), 4),
        "late_share_due_weekday": round(float(late[~weekend_due].mean()), 4),
        "late_share_by_due_weekday": {WEEKDAYS[int(d)]: round(float(s), 4)
                                      for d, s in by_weekday.items()},
    }


def read_tables(ledger_dir: Path) -> dict[str, pa.Table]:
    """The invoices, payments and credit notes of a ledger folder of Parquet files."""
    return {name: pq.read_table(ledger_dir / f"{name}.parquet")
            for name in ("invoices", "payments", "credit_notes")}


def main(argv: list[str]) -> None:
    """Print the figures of the ledger folder `argv[0]` as JSON; its end is the day after its
    last invoice, payment or credit note."""
    tables = read_tables(Path(argv[0]))
    last = max(pc.max(tables[name][column]).as_py()
               for name, column in (("invoices", "issue_date"), ("payments", "payment_date"),
                                    ("credit_notes", "issue_date")))
    print(json.dumps(payment_figures(tables, last + datetime.timedelta(days=1)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
