"""Benchmark the synthetic ledger: time generate_ledger and write_ledger, report rows and peak RSS.

Run: `.venv/bin/python benchmarks/bench_generate.py [--customers N --months M --seed S]`.
The defaults (75,000 customers x 60 months) give about 10 million invoices. The ledger is
written into a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=75_000, help="number of customers")
    parser.add_argument("--months", type=int, default=60, help="ledger length in months")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--shock-month", type=int, default=None,
                        help="1-based month a macro shock starts (default: none)")
    return parser.parse_args(argv)


def peak_rss_gib() -> float:
    """Peak resident set size of this process in GiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def directory_size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir()) / 2**20


def run(config: SyntheticConfig) -> dict[str, object]:
    """Generate and write one ledger; return timings, row counts, file size and peak RSS."""
    started = time.perf_counter()
    tables = generate_ledger(config)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as scratch:
        out_dir = Path(scratch) / "ledger"
        write_ledger(tables, out_dir)
        written = time.perf_counter()
        size = directory_size_mib(out_dir)
    return {
        "generate_s": generated - started,
        "write_s": written - generated,
        "total_s": written - started,
        "rows": {name: table.num_rows for name, table in tables.items()},
        "parquet_mib": size,
        "peak_rss_gib": peak_rss_gib(),
    }


def format_report(config: SyntheticConfig, figures: dict[str, object]) -> str:
    rows: dict[str, int] = figures["rows"]  # type: ignore[assignment]
    lines = [
        f"synthetic ledger: {config.customers:,} customers x {config.months} months, "
        f"seed {config.seed}, shock month {config.shock_month}",
        "",
        f"{'table':<18}{'rows':>14}",
        *(f"{name:<18}{count:>14,}" for name, count in rows.items()),
        "",
        f"{'generate_ledger':<18}{figures['generate_s']:>13.1f}s",
        f"{'write_ledger':<18}{figures['write_s']:>13.1f}s",
        f"{'total':<18}{figures['total_s']:>13.1f}s",
        f"{'invoices/s':<18}{rows['invoices'] / figures['total_s']:>14,.0f}",  # type: ignore
        f"{'parquet size':<18}{figures['parquet_mib']:>11.0f} MiB",
        f"{'peak RSS':<18}{figures['peak_rss_gib']:>11.2f} GiB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = SyntheticConfig(customers=args.customers, months=args.months, seed=args.seed,
                             shock_month=args.shock_month)
    print(format_report(config, run(config)))


if __name__ == "__main__":
    main()
