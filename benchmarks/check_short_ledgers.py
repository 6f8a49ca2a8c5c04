"""Acceptance check of issue 14 on short histories (a script, not a test: it takes an hour).

    .venv/bin/python benchmarks/check_short_ledgers.py                  # months 13..29
    .venv/bin/python benchmarks/check_short_ledgers.py --retrain all    # every model, every month
    .venv/bin/python benchmarks/check_short_ledgers.py --ledger work/ibm --dates 2013-07-01

On `o2c generate --customers 2000 --months 30 --seed 11` (generated once into the cache
folder), for every month D from month 13 to month 29 (its first day), as a user runs them in
one working folder: `o2c train --valid-from D`, `o2c score --as-of D`, then `o2c limits` and
`o2c worklist --top 10` as of D (both read the snapshot). Each month passes when every command
exits 0 and every customer who owes or buys at D (an invoice issued before D that is still
open, or one issued in the 365 days before D: computed here from the ledger's tables, not by
the code under test) has a limit row with a grade A-E and a recommended limit, and so does
every customer of the worklist's top 10. It prints a line per month (the label the customer
model learnt, customers, grades, the share flagged for review, seconds) and exits 1 if a month
failed.

`--retrain customer` (the default) trains every model at the first month and then only the
serious-delinquency model, the one short ledgers broke; the two invoice models take most of
the time and trained on short ledgers already. `--retrain all` runs `o2c train` in full every
month.
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
sys.path.insert(0, str(ROOT))
O2C = str(Path(sys.executable).with_name("o2c"))
GRADES = {"A", "B", "C", "D", "E"}


def owing_or_buying(ledger_dir: Path, as_of: dt.date) -> set[str]:
    """Customers with an invoice issued before `as_of` still open then (payments and credit
    notes dated before it do not cover it), or issued in the 365 days before it."""
    from ledger import load_ledger

    ledger = load_ledger(ledger_dir)
    try:
        rows = ledger.rows(f"""
            WITH paid AS (
                SELECT invoice_id, sum(amount) AS amount FROM (
                    SELECT invoice_id, amount FROM payments WHERE payment_date < DATE '{as_of}'
                    UNION ALL
                    SELECT invoice_id, amount FROM credit_notes
                    WHERE issue_date < DATE '{as_of}') GROUP BY invoice_id)
            SELECT DISTINCT i.customer_id FROM invoices i LEFT JOIN paid p USING (invoice_id)
            WHERE i.issue_date < DATE '{as_of}'
              AND (i.issue_date >= DATE '{as_of}' - INTERVAL 365 DAY
                   OR i.amount - coalesce(p.amount, 0) > 0.005)""")
    finally:
        ledger.close()
    return {str(r[0]) for r in rows}


def run(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """An `o2c` command as a user runs it, timed."""
    start = time.perf_counter()
    done = subprocess.run([O2C, *args], env=env, capture_output=True, text=True, check=False)
    return done, time.perf_counter() - start


def last_json(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_month(ledger: Path, day: dt.date, env: dict[str, str], models: list[str]) -> dict:
    """Train, score, limits and worklist as of `day`; what was found."""
    found: dict = {"date": str(day), "problems": []}
    train, found["train_s"] = run(["train", "--ledger", str(ledger), "--valid-from", str(day),
                                   *[f"--model={m}" for m in models]], env)
    if train.returncode != 0:
        found["problems"].append(f"o2c train exit {train.returncode}: "
                                 f"{(train.stdout + train.stderr).strip()[-600:]}")
    start = time.perf_counter()
    steps = {}
    for name, args in (("score", ["score"]), ("limits", ["limits", "--json"]),
                       ("worklist", ["worklist", "--top", "10", "--json"])):
        steps[name], _ = run([*args, "--ledger", str(ledger), "--as-of", str(day)], env)
        if steps[name].returncode != 0:
            found["problems"].append(f"o2c {name} exit {steps[name].returncode}: "
                                     f"{(steps[name].stdout + steps[name].stderr)[-600:]}")
    found["decide_s"] = time.perf_counter() - start
    if found["problems"]:
        return found
    limits = {row["customer_id"]: row for row in last_json(steps["limits"])["limits"]}
    top = [row["customer_id"] for row in last_json(steps["worklist"])["worklist"]]
    expected = owing_or_buying(ledger, day)
    graded = {c for c, row in limits.items() if row["grade"] in GRADES
              and row["recommended_limit"] is not None}
    missing = sorted((expected | set(top)) - graded)
    if missing:
        found["problems"].append(f"{len(missing)} customers without a grade and a limit: "
                                 f"{missing[:5]}")
    first = next(iter(limits.values()), {})
    found.update(expected=len(expected), limits=len(limits), top_graded=len(set(top) & graded),
                 label=first.get("probability_of"),
                 flagged=sum(bool(r["review_flag"]) for r in limits.values()),
                 grades="".join(f"{g}{sum(r['grade'] == g for r in limits.values())} "
                                for g in sorted(GRADES)).strip())
    return found


def month_start(first: dt.date, month: int) -> dt.date:
    """The first day of the ledger's `month` (1-based)."""
    index = first.year * 12 + first.month - 1 + month - 1
    return dt.date(index // 12, index % 12 + 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", help="existing ledger folder (else one is generated)")
    parser.add_argument("--customers", type=int, default=2000, help="generated customers")
    parser.add_argument("--months", type=int, default=30, help="generated months")
    parser.add_argument("--seed", type=int, default=11, help="generated ledger's seed")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="folder that keeps generated ledgers between runs")
    parser.add_argument("--first-month", type=int, default=13, help="first month checked")
    parser.add_argument("--last-month", type=int, default=29, help="last month checked")
    parser.add_argument("--dates", nargs="*", help="check these dates instead (YYYY-MM-DD)")
    parser.add_argument("--retrain", choices=("customer", "all"), default="customer",
                        help="after the first date, train only the serious-delinquency model "
                             "(customer) or every model (all)")
    parser.add_argument("--workdir", help="working folder (default: a temporary one)")
    args = parser.parse_args()

    ledger = Path(args.ledger) if args.ledger else Path(args.cache) / (
        f"ledger-c{args.customers}-m{args.months}-s{args.seed}")
    if not (ledger / "invoices.parquet").exists() and not args.ledger:
        done, _ = run(["generate", "--out", str(ledger), "--customers", str(args.customers),
                       "--months", str(args.months), "--seed", str(args.seed)], dict(os.environ))
        if done.returncode != 0:
            sys.exit(done.stderr)
    from ledger import load_ledger

    loaded = load_ledger(ledger)
    first = loaded.scalar("SELECT min(issue_date) FROM invoices")
    loaded.close()
    days = [dt.date.fromisoformat(d) for d in args.dates] if args.dates else [
        month_start(first, m) for m in range(args.first_month, args.last_month + 1)]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="o2c-short-"))
    env = {**os.environ, "O2C_WORKDIR": str(workdir), "COLUMNS": "200"}
    print(f"ledger {ledger}, working folder {workdir}, {len(days)} dates, retrain "
          f"{args.retrain}", flush=True)
    failed = 0
    for i, day in enumerate(days):
        models = [] if i == 0 or args.retrain == "all" else ["serious-delinquency"]
        found = check_month(ledger, day, env, models)
        failed += bool(found["problems"])
        status = "FAIL " + " | ".join(found["problems"]) if found["problems"] else "ok"
        print(f"{day}: {status}; train {found['train_s']:.0f} s, score+limits+worklist "
              f"{found['decide_s']:.0f} s; {found.get('expected', '?')} owe or buy, "
              f"{found.get('limits', '?')} limits ({found.get('grades', '')}), "
              f"{found.get('flagged', '?')} flagged, top 10 graded "
              f"{found.get('top_graded', '?')}; label: {found.get('label')}", flush=True)
    print(f"{len(days) - failed} of {len(days)} dates pass", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
