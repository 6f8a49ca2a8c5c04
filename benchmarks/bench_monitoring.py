"""Benchmark of the monitoring computation on ~1M current vs ~1M reference rows (a script).

    .venv/bin/python benchmarks/bench_monitoring.py            # cached ~2M-invoice ledger
    .venv/bin/python benchmarks/bench_monitoring.py --plain-rows 20000 100000

The per-invoice features of a generated ledger (15,000 customers x 60 months, ~2M invoices,
the one `bench_training.py` caches) are written to Parquet once and read into memory (as
`o2c monitor` holds its windows); invoices issued before the median issue date are the
reference, the others the current window. No model is trained: the score is a stand-in, a
smooth function of two history features. Timed, with DuckDB on 2 threads:

1. exact PSI of every monitored feature and the score over all rows
   (`monitoring.psi.population_stability` on the in-memory tables);
2. Evidently 0.7 `DataDriftPreset` + score `ValueDrift` on seeded samples of `sample_rows`
   rows per window (`monitoring.reports.drift_report`), sampling included;
3. for comparison, plain Evidently `DataDriftPreset` on N rows x 30 columns per window, for a
   few N: why the monitoring samples.

Goal (issue 7): 1 and 2 together in <= 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def _features(args: argparse.Namespace) -> Path:
    """Per-invoice features of the cached benchmark ledger, written once."""
    from features import write_invoice_features
    from ledger import load_ledger
    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger

    name = f"c{args.customers}-m{args.months}-s{args.seed}"
    path = Path(args.cache) / f"monitoring-features-{name}.parquet"
    if path.exists():
        return path
    ledger_dir = Path(args.cache) / f"ledger-{name}"
    if not (ledger_dir / "invoices.parquet").exists():
        print(f"generating {ledger_dir} ...", flush=True)
        write_ledger(generate_ledger(SyntheticConfig(customers=args.customers,
                                                     months=args.months, seed=args.seed)),
                     ledger_dir)
    print(f"building per-invoice features into {path} ...", flush=True)
    ledger = load_ledger(ledger_dir)
    ledger.con.execute("SET threads = 2")
    ledger.con.execute("SET preserve_insertion_order = false")
    write_invoice_features(ledger, path)
    ledger.close()
    return path


def _columns(con, path: Path) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Numeric and categorical monitored features present in the Parquet file."""
    from features.catalog import feature_catalog
    from training.fit import CATEGORICAL

    present = {r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
    names = [s.name for s in feature_catalog("invoice") if s.name in present]
    categorical = [c for c in names if c in CATEGORICAL]
    return [c for c in names if c not in categorical], categorical


def _windows(path: Path, numeric: list[str], categorical: list[str]) -> tuple:
    """Reference (issued before the median issue date) and current rows as Arrow tables,
    NaN as null (as DuckDB reads the monitor's pandas frames), with the score stand-in."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["issue_date", *numeric, *categorical])
    columns = {}
    for name in numeric:
        values = table[name].cast(pa.float64())
        columns[name] = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
    for name in categorical:
        columns[name] = table[name]
    late = np.nan_to_num(columns["late_share_all"].to_numpy(zero_copy_only=False), nan=0.25)
    days = np.nan_to_num(columns["days_late_mean_90d"].to_numpy(zero_copy_only=False))
    columns["score"] = pa.array(1 / (1 + np.exp(-(3 * late + 0.02 * days - 1.5))))
    clean = pa.table(columns)
    dates = table["issue_date"]
    median = pc.quantile(pc.cast(dates, pa.int32()), q=0.5, interpolation="lower")[0]
    before = pc.less(pc.cast(dates, pa.int32()), median)
    return clean.filter(before), clean.filter(pc.invert(before))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=15_000, help="generated customers")
    parser.add_argument("--months", type=int, default=60, help="generated months")
    parser.add_argument("--seed", type=int, default=0, help="generated ledger's seed")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="folder for the cached ledger and features")
    parser.add_argument("--sample-rows", type=int, default=5000,
                        help="rows per window given to Evidently (as MonitoringConfig)")
    parser.add_argument("--plain-rows", type=int, nargs="*", default=[20_000, 100_000, 300_000],
                        help="rows per window for the plain Evidently comparison")
    args = parser.parse_args()

    import duckdb

    from monitoring.psi import population_stability
    from monitoring.reports import drift_report

    path = _features(args)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    numeric, categorical = _columns(con, path)
    started = time.perf_counter()
    reference, current = _windows(path, numeric, categorical)
    con.register("reference", reference)
    con.register("current", current)
    print(f"reference {reference.num_rows:,} rows, current {current.num_rows:,} rows; "
          f"{len(numeric)} numeric and {len(categorical)} categorical features + score "
          f"(read into memory in {time.perf_counter() - started:.1f} s, not counted)",
          flush=True)
    columns = [*numeric, "score", *categorical]

    started = time.perf_counter()
    psi = population_stability(con, "reference", "current", numeric=[*numeric, "score"],
                               categorical=categorical)
    psi_seconds = time.perf_counter() - started
    largest = ", ".join(f"{r.column} {r.psi:.3f}" for r in psi.nlargest(3, "psi").itertuples())
    print(f"1. exact PSI, all rows, {len(psi)} columns: {psi_seconds:.1f} s "
          f"(largest: {largest})", flush=True)

    started = time.perf_counter()
    samples = [con.sql(f"SELECT {', '.join(columns)} FROM {table} "
                       f"USING SAMPLE reservoir({args.sample_rows} ROWS) REPEATABLE (0)").df()
               for table in ("reference", "current")]
    _, figures = drift_report(samples[0], samples[1], numeric=numeric, categorical=categorical)
    evidently_seconds = time.perf_counter() - started
    print(f"2. Evidently DataDriftPreset + score ValueDrift on {args.sample_rows:,}-row "
          f"samples: {evidently_seconds:.1f} s ({figures.drifted_share:.0%} of features "
          "drifted)", flush=True)
    total = psi_seconds + evidently_seconds
    print(f"   total 1 + 2: {total:.1f} s (goal <= 20 s)", flush=True)

    import numpy as np
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    thirty = [*numeric[: 30 - len(categorical)], *categorical]
    timings: list[tuple[int, float]] = []
    for rows in args.plain_rows:
        frames = [con.sql(f"SELECT {', '.join(thirty)} FROM {table} "
                          f"USING SAMPLE reservoir({rows} ROWS) REPEATABLE (1)").df()
                  for table in ("reference", "current")]
        definition = DataDefinition(numerical_columns=[c for c in thirty if c in numeric],
                                    categorical_columns=categorical)
        started = time.perf_counter()
        Report([DataDriftPreset()]).run(Dataset.from_pandas(frames[1], data_definition=definition),
                                        Dataset.from_pandas(frames[0], data_definition=definition))
        seconds = time.perf_counter() - started
        timings.append((rows, seconds))
        print(f"3. plain Evidently DataDriftPreset, {rows:,} rows x {len(thirty)} columns per "
              f"window: {seconds:.1f} s", flush=True)
    if len(timings) >= 2:
        slope, intercept = np.polyfit(*zip(*timings, strict=True), 1)
        print(f"   straight line through these: {intercept:.1f} s + {slope * 1e5:.1f} s per "
              f"100k rows -> ~{intercept + slope * 1e6:.0f} s at 1M rows x 30 columns",
              flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS {peak:.2f} GiB; {platform.python_version()}, {dt.date.today()}")


if __name__ == "__main__":
    main()
