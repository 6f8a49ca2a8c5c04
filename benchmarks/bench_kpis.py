"""Benchmark of `o2c kpis` on a large synthetic ledger (a script, not a test).

    .venv/bin/python benchmarks/bench_kpis.py                 # ~10M invoices, cached
    .venv/bin/python benchmarks/bench_kpis.py --ledger DIR    # an existing ledger folder

First the whole command as a user runs it, in a fresh process (`o2c kpis --ledger L --as-of D
--json`, then with `--by customer` and with `--plot`): wall seconds, CPU seconds of the
process and its threads, peak RSS. Then where the time goes, each step in one child process:
loading the ledger without the contract's business rules, the rules (`check_ledger`), the
per-customer KPI parts (`kpi_components`) and the 12-month trend (`kpi_trend`), and the
SHA-256 of the files that names a remembered verdict.

Target (issue 15): KPIs on ~10 million invoices in <= 10 s, the whole CLI process. The work
folder is fresh: the first run checks the contract's business rules and remembers the verdict
for the files' SHA-256 (`ledger.verdicts`); the later runs find it and skip the rules.
The generated ledger is the one `bench_features.py` caches (same arguments, same folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_features import _ensure_ledger, _ledger_end  # noqa: E402

GIB = 2**30


def _children() -> tuple[float, float]:
    """CPU seconds and peak RSS (GiB) of the finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / GIB


def _run(argv: list[str], workdir: str | None = None) -> dict[str, float]:
    """Run one command to its end (with `O2C_WORKDIR` = `workdir` if given); its wall and CPU
    seconds (the peak RSS of all children so far: the largest one)."""
    cpu_before, _ = _children()
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if workdir is not None:
        env["O2C_WORKDIR"] = workdir
    process = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False,
                             env=env)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n"
                           f"{process.stderr[-2000:]}")
    cpu_after, peak = _children()
    return {"wall_s": wall, "cpu_s": cpu_after - cpu_before, "peak_rss_gib": peak,
            "stdout_last": process.stdout.strip().splitlines()[-1]}


def _steps(ledger: str, as_of: dt.date) -> dict[str, float]:
    """In this process: load, business rules, KPI parts and trend, each timed."""
    from features.kpis import kpi_components, kpi_trend
    from ledger.loader import load_ledger
    from ledger.validation import check_ledger
    from ledger.verdicts import ledger_digest

    out = {}
    start = time.perf_counter()
    ledger_digest(Path(ledger))
    out["SHA-256 of the files (remembered verdict)"] = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_ledger(ledger, validate=False)
    out["load (no business rules)"] = time.perf_counter() - start
    start = time.perf_counter()
    issues = check_ledger(loaded)
    out["business rules (check_ledger)"] = time.perf_counter() - start
    if issues:
        raise RuntimeError(f"the ledger has {len(issues)} problems")
    start = time.perf_counter()
    kpi_components(loaded, as_of)
    out["kpi_components"] = time.perf_counter() - start
    start = time.perf_counter()
    kpi_trend(loaded, as_of)
    out["kpi_trend (12 dates)"] = time.perf_counter() - start
    out["invoices"] = loaded.count("invoices")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", help="existing ledger folder (else a generated one, cached)")
    parser.add_argument("--customers", type=int, default=75_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"))
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="KPI date (default: the day after the ledger's last fact)")
    parser.add_argument("--steps", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps:
        print(json.dumps(_steps(args.ledger, args.as_of)))
        return
    folder = _ensure_ledger(args)
    as_of = args.as_of or _ledger_end(folder)
    o2c = str(Path(sys.executable).parent / "o2c")
    base = [o2c, "kpis", "--ledger", str(folder), "--as-of", as_of.isoformat()]
    print(f"ledger {folder}, as of {as_of}; cpus={os.cpu_count()}")
    print(f"{'command':<44}{'wall s':>8}{'cpu s':>8}{'peak GiB':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        # a fresh work folder: the first run checks the business rules and remembers the
        # verdict (`ledger.verdicts`), the others find it
        commands = {"o2c kpis --json (first: rules run)": [*base, "--json"],
                    "o2c kpis --json": [*base, "--json"],
                    "o2c kpis --by customer --json": [*base, "--by", "customer", "--json"],
                    "o2c kpis --plot trend.png": [*base, "--plot", f"{scratch}/trend.png"]}
        for name, command in commands.items():
            result = _run(command, workdir=f"{scratch}/work")
            print(f"{name:<44}{result['wall_s']:>8.1f}{result['cpu_s']:>8.1f}"
                  f"{result['peak_rss_gib']:>10.2f}", flush=True)
            if name == "o2c kpis --json":
                figures = json.loads(result["stdout_last"])
                print("  " + ", ".join(f"{k} {figures[k]}" for k in (
                    "ar", "dso", "best_dso", "add", "cei", "promise_kept_share")))
    steps = _run([sys.executable, __file__, "--steps", "--ledger", str(folder),
                  "--as-of", as_of.isoformat()])
    figures = json.loads(steps["stdout_last"])
    print(f"steps, in one process ({figures.pop('invoices'):,} invoices; "
          f"{steps['cpu_s']:.1f} CPU s in all):")
    for name, seconds in figures.items():
        print(f"  {name:<42}{seconds:>8.1f}")


if __name__ == "__main__":
    main()
