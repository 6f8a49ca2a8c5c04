"""Benchmark of the feature pipeline on a large synthetic ledger (a script, not a test).

    .venv/bin/python benchmarks/bench_features.py                 # ~10M invoices, cached
    .venv/bin/python benchmarks/bench_features.py --ledger DIR    # an existing ledger folder

Each measurement runs in its own subprocess, which loads the ledger, applies the DuckDB
settings, then times one build (wall seconds, and CPU seconds of all threads, which are less
disturbed by other work on the machine); peak memory is that process's maximum resident set
size (ru_maxrss, so it includes the loaded ledger). Loading is timed separately. Beside the
pipeline, a straightforward vectorized pandas version of a few of the same features (share
paid late and mean days late over all history as of each issue date; open amount per open
invoice as of one date) is measured the same way, reading the Parquet files directly.

`cli_per_invoice` runs `o2c features build --per-invoice` itself, as a user does (the ledger
validated on load, DuckDB's default settings rather than this script's): the figure issue 14
asks for.

Targets (issue 3): per-invoice features of ~10M invoices in <= 60 s within 6 GiB on 2 cores;
a snapshot as of one date in <= 10 s; issue 14 the same through the CLI, new features included.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30

MEASUREMENTS: dict[str, str] = {
    "cli_per_invoice": "`o2c features build --per-invoice` as a user runs it (validation, "
                       "DuckDB defaults, Parquet written): the issue's figure",
    "load": "load the ledger into DuckDB (no validation)",
    "invoice_parquet": "per-invoice features -> Parquet (write_invoice_features)",
    "invoice_pandas": "per-invoice features -> pandas (build_invoice_features)",
    "snapshot": "snapshot as of one date (build_snapshot)",
    "customers": "customer features as of one date (build_customer_features)",
    "pandas_invoice": "pandas: late share + mean days late (all) as of each issue date",
    "pandas_snapshot": "pandas: open amount of each open invoice as of one date",
}


def _rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def _cpu_s() -> float:
    """CPU seconds (user + system, all threads) used by this process so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(name: str, args: argparse.Namespace) -> dict[str, object]:
    """Run one measurement in this process; return its figures."""
    if name.startswith("pandas_"):
        return _measure_pandas(name, args)
    if name == "cli_per_invoice":
        return _measure_cli(args)
    from features import (
        build_customer_features,
        build_invoice_features,
        build_snapshot,
        write_invoice_features,
    )
    from ledger import load_ledger

    start, cpu = time.perf_counter(), _cpu_s()
    ledger = load_ledger(args.ledger, validate=False)
    out: dict[str, object] = {"load_s": time.perf_counter() - start,
                              "load_cpu_s": _cpu_s() - cpu, "rss_after_load_gib": _rss_gib()}
    ledger.con.execute(f"SET threads = {args.threads}")
    ledger.con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if not name.startswith("invoice"):  # the per-invoice build keeps the rows' order
        ledger.con.execute("SET preserve_insertion_order = false")
    as_of = args.as_of
    out["invoices"] = ledger.count("invoices")
    start, cpu = time.perf_counter(), _cpu_s()
    if name == "load":
        pass
    elif name == "invoice_parquet":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "invoice_features.parquet"
            out["rows"] = write_invoice_features(ledger, path, chunk_invoices=args.chunk)
            out["seconds"] = time.perf_counter() - start
            out["cpu_s"] = _cpu_s() - cpu
            out["file_mib"] = path.stat().st_size / 2**20
            out["check_late_share_all_mean"] = ledger.scalar(
                f"SELECT avg(late_share_all) FILTER (WHERE NOT isnan(late_share_all)) "
                f"FROM read_parquet('{path}')")
    elif name == "invoice_pandas":
        frame = build_invoice_features(ledger, chunk_invoices=args.chunk)
        out["rows"], out["columns"] = frame.shape
        out["frame_gib"] = frame.memory_usage(deep=True).sum() / GIB
    elif name == "snapshot":
        frame = build_snapshot(ledger, as_of)
        out["rows"], out["columns"] = frame.shape
        out["as_of"] = as_of.isoformat()
        out["check_open_amount_sum"] = float(frame["open_amount"].sum())
    elif name == "customers":
        frame = build_customer_features(ledger, as_of)
        out["rows"], out["columns"] = frame.shape
    else:
        raise ValueError(f"unknown measurement {name!r}")
    out.setdefault("seconds", time.perf_counter() - start)
    out.setdefault("cpu_s", _cpu_s() - cpu)
    return out


def _measure_pandas(name: str, args: argparse.Namespace) -> dict[str, object]:
    """The same few features, straightforward vectorized pandas on the Parquet files."""
    import pandas as pd

    folder = Path(args.ledger)
    start = time.perf_counter()
    invoices = pd.read_parquet(folder / "invoices.parquet", columns=[
        "invoice_id", "customer_id", "issue_date", "due_date", "amount"])
    payments = pd.read_parquet(folder / "payments.parquet",
                               columns=["invoice_id", "payment_date", "amount"])
    credits = pd.read_parquet(folder / "credit_notes.parquet",
                              columns=["invoice_id", "issue_date", "amount"])
    applied = pd.concat([payments.rename(columns={"payment_date": "date"}),
                         credits.rename(columns={"issue_date": "date"})], ignore_index=True)
    for frame, columns in ((invoices, ["issue_date", "due_date"]), (applied, ["date"])):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column])
    read_seconds = time.perf_counter() - start
    start, cpu = time.perf_counter(), _cpu_s()
    out: dict[str, object] = {"read_s": read_seconds, "invoices": len(invoices)}
    if name == "pandas_invoice":
        daily = applied.groupby(["invoice_id", "date"], as_index=False)["amount"].sum()
        daily = daily.sort_values(["invoice_id", "date"])
        daily["cum"] = daily.groupby("invoice_id")["amount"].cumsum()
        daily = daily.merge(invoices[["invoice_id", "amount"]], on="invoice_id",
                            suffixes=("", "_invoice"))
        settled = daily[daily["cum"] >= daily["amount_invoice"] - 0.005]
        settle = settled.groupby("invoice_id", as_index=False)["date"].min()
        settle = settle.merge(invoices[["invoice_id", "customer_id", "due_date"]],
                              on="invoice_id")
        settle["days_late"] = (settle["date"] - settle["due_date"]).dt.days
        settle["late"] = (settle["days_late"] > 0).astype("int64")
        events = settle.groupby(["customer_id", "date"], as_index=False)[
            ["late", "days_late"]].agg(["sum", "count"])
        events.columns = ["customer_id", "date", "late", "n", "days_late", "_n"]
        events = events.sort_values(["customer_id", "date"])
        grouped = events.groupby("customer_id")
        events["cum_n"] = grouped["n"].cumsum()
        events["cum_late"] = grouped["late"].cumsum()
        events["cum_days"] = grouped["days_late"].cumsum()
        result = pd.merge_asof(
            invoices[["invoice_id", "customer_id", "issue_date"]].sort_values("issue_date"),
            events[["customer_id", "date", "cum_n", "cum_late", "cum_days"]]
            .sort_values("date"),
            left_on="issue_date", right_on="date", by="customer_id",
            allow_exact_matches=False)
        result["late_share_all"] = result["cum_late"] / result["cum_n"]
        result["days_late_mean_all"] = result["cum_days"] / result["cum_n"]
        result = result.sort_values(["customer_id", "invoice_id"])
        out["rows"] = len(result)
        out["check_late_share_all_mean"] = float(result["late_share_all"].mean())
    elif name == "pandas_snapshot":
        as_of = pd.Timestamp(args.as_of)
        before = applied[applied["date"] < as_of].groupby("invoice_id")["amount"].sum()
        issued = invoices[invoices["issue_date"] < as_of]
        open_amount = issued["amount"] - issued["invoice_id"].map(before).fillna(0.0)
        snapshot = issued.assign(open_amount=open_amount)[open_amount > 0.005]
        out["rows"] = len(snapshot)
        out["as_of"] = as_of.date().isoformat()
        out["check_open_amount_sum"] = float(snapshot["open_amount"].sum())
    else:
        raise ValueError(f"unknown measurement {name!r}")
    out["seconds"] = time.perf_counter() - start
    out["cpu_s"] = _cpu_s() - cpu
    return out


def _measure_cli(args: argparse.Namespace) -> dict[str, object]:
    """The CLI command in a child process: its wall and CPU seconds and peak RSS (the
    command's own, not this process's)."""
    import resource

    import pyarrow.parquet as pq

    o2c = Path(sys.executable).with_name("o2c")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "invoice_features.parquet"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(o2c), "features", "build", "--per-invoice", "--ledger",
                        str(args.ledger), "--out", str(path)], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = pq.ParquetFile(path).metadata.num_rows
    return {"seconds": seconds, "rows": rows,
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "cli_peak_rss_gib": after.ru_maxrss * 1024 / GIB}


def _ledger_end(folder: Path) -> dt.date:
    """The day after the last dated fact of a Parquet ledger (as ledger.summary.ledger_end)."""
    import duckdb

    from ledger.summary import EVENT_DATES

    parts = [f"SELECT max({column}) AS d FROM read_parquet('{folder / table}.parquet')"
             for table, column in EVENT_DATES if (folder / f"{table}.parquet").exists()]
    last = duckdb.sql(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchall()[0][0]
    return last + dt.timedelta(days=1)


def _run_child(name: str, args: argparse.Namespace) -> dict[str, object]:
    """One measurement in a fresh interpreter; adds its peak RSS and wall time."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", name,
               "--ledger", str(args.ledger), "--threads", str(args.threads),
               "--memory-limit", args.memory_limit, "--chunk", str(args.chunk)]
    if args.as_of:
        command += ["--as-of", args.as_of.isoformat()]
    start = time.perf_counter()
    process = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"measurement {name} failed (exit {process.returncode})")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    result["peak_rss_gib"] = result.pop("_peak_rss_gib")
    result["wall_s"] = wall
    return result


def _ensure_ledger(args: argparse.Namespace) -> Path:
    if args.ledger:
        return Path(args.ledger)
    folder = Path(args.cache) / f"ledger-c{args.customers}-m{args.months}-s{args.seed}"
    if (folder / "invoices.parquet").exists():
        print(f"ledger: cached {folder}")
        return folder
    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger

    start = time.perf_counter()
    tables = generate_ledger(SyntheticConfig(customers=args.customers, months=args.months,
                                             seed=args.seed))
    write_ledger(tables, folder)
    print(f"ledger: generated {folder} in {time.perf_counter() - start:.1f} s "
          f"({len(tables['invoices']):,} invoices)")
    return folder


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", help="existing ledger folder of Parquet files (else a "
                        "generated one, cached)")
    parser.add_argument("--customers", type=int, default=75_000,
                        help="customers of the generated ledger (75,000 x 60 months ~ 10M "
                             "invoices)")
    parser.add_argument("--months", type=int, default=60, help="months of the generated ledger")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated ledger")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="folder keeping generated ledgers between runs")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="snapshot date, YYYY-MM-DD (default: the day after the last fact)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--memory-limit", default="3.5GB", help="DuckDB memory_limit")
    parser.add_argument("--chunk", type=int, default=None,
                        help="invoices per customer group of the per-invoice build (default "
                             "the pipeline's CHUNK_INVOICES)")
    parser.add_argument("--only", nargs="*", choices=list(MEASUREMENTS),
                        help="run only these measurements")
    parser.add_argument("--measure", choices=list(MEASUREMENTS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    args = _parse(argv)
    if args.chunk is None:
        from features.pipeline import CHUNK_INVOICES

        args.chunk = CHUNK_INVOICES
    if args.measure:
        result = _measure(args.measure, args)
        result["_peak_rss_gib"] = result.pop("cli_peak_rss_gib", None) or _rss_gib()
        print(json.dumps(result, default=str))
        return
    args.ledger = _ensure_ledger(args)
    args.as_of = args.as_of or _ledger_end(args.ledger)
    print(f"settings: threads={args.threads}, memory_limit={args.memory_limit}, "
          f"preserve_insertion_order=false but per invoice, chunk={args.chunk:,} invoices, "
          f"as of {args.as_of}; cpus={os.cpu_count()}")
    header = f"{'measurement':<18}{'seconds':>9}{'cpu s':>8}{'peak GiB':>10}{'rows':>12}  notes"
    print(header)
    print("-" * len(header))
    for name in args.only or list(MEASUREMENTS):
        result = _run_child(name, args)
        seconds = result["load_s"] if name == "load" else result["seconds"]
        if name == "load":
            result["cpu_s"] = result["load_cpu_s"]
        notes = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()
                 if k not in ("seconds", "cpu_s", "peak_rss_gib", "rows", "wall_s")}
        print(f"{name:<18}{seconds:>9.1f}{result['cpu_s']:>8.1f}{result['peak_rss_gib']:>10.2f}"
              f"{result.get('rows', result.get('invoices', 0)):>12,}  {notes}", flush=True)
    print("\n".join(f"  {name}: {text}" for name, text in MEASUREMENTS.items()))


if __name__ == "__main__":
    main()
