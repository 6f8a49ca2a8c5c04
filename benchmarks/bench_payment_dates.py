"""Benchmark of predicting payment dates for 1 million open invoices (a script, not a test).

    flock /tmp/bigbench.lock .venv/bin/python benchmarks/bench_payment_dates.py

Prepared once and cached in work/bench/payment-dates/: a generated ledger (2,000 customers,
30 months, seed 11), a payment-date model fitted on what was known before 2026-01-01
(`training.payment_dates`, as `o2c train` fits it), and the feature rows of the invoices open
at 2026-01-01 (`build_snapshot`) repeated to 1,000,000 rows, as Parquet.

Measured in a fresh process, as serving runs it: read the model (`models.store.load_model`) and
the 1M rows' inputs (the model's features, due date and days past due), predict P10/P50/P90
(`PaymentDateModel.predict_days`) and turn them into dates (`pay_dates`): wall and CPU
seconds of each step and of the whole process, peak RSS.
Target (issue 15): <= 10 s for the 1M invoices. Building the features of 1M open invoices is
the snapshot's cost (`bench_features.py`), shared by every model, and is not counted here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = dt.date(2026, 1, 1)
ROWS = 1_000_000


def _prepare(folder: Path) -> None:
    """The ledger, the model and the 1M feature rows, unless already there."""
    import pandas as pd

    from features import build_invoice_features, build_snapshot
    from ledger.loader import load_ledger
    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
    from training.config import TrainingConfig
    from training.examples import issue_examples
    from training.payment_dates import examples_in, fit_payment_dates

    ledger_dir, model_dir, rows_file = folder / "ledger", folder / "model", folder / "rows.parquet"
    if not ledger_dir.exists():
        write_ledger(generate_ledger(SyntheticConfig(customers=2000, months=30, seed=11)),
                     ledger_dir)
    ledger = load_ledger(ledger_dir)
    if not model_dir.exists():
        config = TrainingConfig()
        first = ledger.scalar("SELECT min(issue_date) FROM invoices")
        train, _ = examples_in(ledger, issue_examples(build_invoice_features(ledger)), first,
                               AS_OF, config=config, max_dates=config.snapshot_max_dates,
                               warmup_days=90)
        model, _ = fit_payment_dates(train, config)
        model.save(model_dir)
    if not rows_file.exists():
        snapshot = build_snapshot(ledger, AS_OF)
        repeats = -(-ROWS // len(snapshot))
        rows = pd.concat([snapshot] * repeats, ignore_index=True).head(ROWS)
        rows.to_parquet(rows_file, index=False)
    ledger.close()


def _score(folder: Path) -> dict[str, float]:
    """In this process: each step timed."""
    import pandas as pd

    from models.payment_dates import pay_dates
    from models.store import load_model

    out: dict[str, float] = {}
    start = time.perf_counter()
    model = load_model(folder / "model")
    out["load the model"] = time.perf_counter() - start
    start = time.perf_counter()
    columns = list(dict.fromkeys([*model.features, "due_date", "days_past_due"]))
    rows = pd.read_parquet(folder / "rows.parquet", columns=columns)
    out["read the 1M rows' inputs"] = time.perf_counter() - start
    start = time.perf_counter()
    days = model.predict_days(rows)
    out["predict P10/P50/P90 (3 boosters)"] = time.perf_counter() - start
    start = time.perf_counter()
    dates = pay_dates(rows["due_date"], days)
    out["as dates"] = time.perf_counter() - start
    out["rows"] = float(len(dates))
    out["trees"] = float(sum(b.num_trees() for b in model.boosters.values()))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench" / "payment-dates"))
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder = Path(args.cache)
    if args.score:
        print(json.dumps(_score(folder)))
        return
    folder.mkdir(parents=True, exist_ok=True)
    _prepare(folder)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run([sys.executable, __file__, "--score", "--cache", str(folder)],
                             cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    steps = json.loads(process.stdout.strip().splitlines()[-1])
    print(f"{int(steps.pop('rows')):,} open invoices, {int(steps.pop('trees'))} trees; "
          f"cpus={os.cpu_count()}")
    print(f"whole process: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS "
          f"{after.ru_maxrss / 2**20:.2f} GiB")
    for name, seconds in steps.items():
        print(f"  {name:<40}{seconds:>8.2f}")


if __name__ == "__main__":
    main()
