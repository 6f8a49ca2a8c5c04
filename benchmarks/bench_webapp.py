"""Benchmark of the web app's worklist page over HTTP on the loopback (a script, not a test).

    .venv/bin/python benchmarks/bench_webapp.py

A 10,000-customer book: a generated ledger (`o2c generate --customers 10000 --months 24`),
scored (`o2c score`) with the champions trained by `benchmarks/bench_api.py` on the demo's
1,500-customer ledger (its cache, work/bench/api-c1500-m30/work, copied; run bench_api.py first
when it is missing). Both are built once into work/bench/webapp-c10000 (delete it to build
again). Then `o2c serve` starts on a free 127.0.0.1 port, a collector and an admin sign in at
/app/login, and `GET /app/worklist` (a whole server-rendered page: the store's actions and
owners laid over the snapshot's worklist, filtered, sorted, the first page of rows with their
inline forms) is timed from the client, request by request.

Goal (issue 17): the worklist page of a 10,000-customer book in <= 300 ms, whole request.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.local import running_server  # noqa: E402

AS_OF = "2026-06-01"
USERS = {"bench-collector": "collector", "bench-admin": "admin"}
PASSWORD = "bench-password-1"


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    result = subprocess.run(argv, env=env, input=stdin, text=True, capture_output=True,
                            check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv[:3])} failed:\n{result.stdout}\n{result.stderr}")


def build(folder: Path, trained: Path, customers: int) -> Path:
    """The working folder: champions copied from `trained`, a snapshot of a generated
    `customers`-customer ledger, the bench users; built once."""
    work, ledger = folder / "work", folder / "ledger"
    o2c = str(Path(sys.executable).parent / "o2c")
    env = {**os.environ, "O2C_WORKDIR": str(work), "O2C_LEDGER": str(ledger)}
    if (work / "snapshots" / AS_OF / "manifest.json").is_file():
        return work
    if not (trained / "mlflow.db").is_file():
        sys.exit(f"no trained champions in {trained}: run benchmarks/bench_api.py first")
    shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy2(trained / "mlflow.db", work / "mlflow.db")
    print(f"generating a {customers:,}-customer ledger and scoring it (once)...", flush=True)
    _run([o2c, "generate", "--customers", str(customers), "--months", "24", "--seed", "3",
          "--start-date", "2024-06-01", "--out", str(ledger)], env)
    _run([o2c, "score", "--ledger", str(ledger), "--as-of", AS_OF], env)
    for name, role in USERS.items():
        _run([o2c, "users", "add", name, "--role", role, "--password-stdin"], env,
             stdin=PASSWORD + "\n")
    return work


def sign_in(client: httpx.Client, name: str) -> None:
    page = client.get("/app/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/app/login", data={"username": name, "password": PASSWORD,
                                             "csrf_token": token})
    if answer.status_code != 303:
        sys.exit(f"sign-in of {name} failed: {answer.status_code}")


def time_page(client: httpx.Client, path: str, repeats: int) -> dict:
    """Milliseconds of each GET of `path` (after one warm-up request)."""
    first = time.perf_counter()
    answer = client.get(path)
    first_ms = (time.perf_counter() - first) * 1000
    if answer.status_code != 200:
        sys.exit(f"GET {path}: {answer.status_code}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.status_code
    rows = answer.text.count('<tr id="row-') + answer.text.count('<tr id="held-')
    total = re.search(r"To work <small>([\d,]+) customer", answer.text)
    return {"path": path, "first_ms": round(first_ms, 1),
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(sorted(times)[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(max(times), 1), "bytes": len(answer.content),
            "rows_rendered": rows, "customers_to_work": total.group(1) if total else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000, help="Customers in the book.")
    parser.add_argument("--repeats", type=int, default=30, help="Timed requests per page.")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="Folder of the benchmarks' cached ledgers and models.")
    args = parser.parse_args()
    cache = Path(args.cache)
    work = build(cache / f"webapp-c{args.customers}", cache / "api-c1500-m30" / "work",
                 args.customers)
    manifest = json.loads((work / "snapshots" / AS_OF / "manifest.json").read_text())
    print(f"book: {manifest['rows']['customers']:,} customers, "
          f"{manifest['rows']['worklist']:,} on the worklist, "
          f"{manifest['rows']['invoice_scores']:,} open invoices", flush=True)
    env = {"O2C_LEDGER": str(work.parent / "ledger")}
    with running_server(work, {}, log=work.parent / "bench-server.log", env=env) as url:
        results = []
        for name in USERS:
            with httpx.Client(base_url=url, timeout=60) as client:
                sign_in(client, name)
                for path in ("/app/worklist", "/app/worklist?sort=amount"):
                    result = {"user": name, **time_page(client, path, args.repeats)}
                    results.append(result)
                    print(json.dumps(result), flush=True)
    worst = max(r["p95_ms"] for r in results)
    print(f"goal: worklist page <= 300 ms; worst p95 {worst:.0f} ms: "
          f"{'met' if worst <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
