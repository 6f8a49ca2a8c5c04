"""Benchmark of the credit managers' and customer-view endpoints over HTTP (a script, not a
test).

    .venv/bin/python benchmarks/bench_workflow_credit.py --workdir work --ledger work/demo-ledger

Starts `o2c serve` on a free 127.0.0.1 port over a working folder with trained champions and a
snapshot (`make demo` makes one), with a fresh SQLite workflow store in a temporary folder and
two store users (a credit manager and an admin), then times sequential requests, one at a
time: `/review_queue` (top 50), `/decide_limit` (an override each), `/credit_limits` (one
customer, with its decision beside it), `/customer` (the single view; the first call, which
loads the ledger, apart) and `/alerts` (an admin's, every alert); then `o2c limits export` as a
user runs it. Prints median, p95 and max in milliseconds and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.local import running_server  # noqa: E402
from serving.workflow import users  # noqa: E402
from serving.workflow.db import open_store  # noqa: E402


def timed(call: Callable[[int], httpx.Response], n: int) -> dict[str, float]:
    """Median, p95 and max wall time (ms) of `n` sequential calls; each must answer 200."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        response = call(i)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{response.request.url.path}: {response.status_code} "
                             f"{response.text[:300]}")
    ordered = sorted(times)
    return {"n": n, "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(ordered[max(0, int(0.95 * n) - 1)], 1),
            "max_ms": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True,
                        help="Working folder with trained champions and a snapshot.")
    parser.add_argument("--ledger", type=Path, required=True,
                        help="The ledger the snapshot was scored from.")
    parser.add_argument("--repeats", type=int, default=100, help="Requests per endpoint.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-credit-"))
    url = f"sqlite:///{folder / 'workflow.db'}"
    store = open_store(url)
    manager = {"Authorization": f"Bearer {users.add_user(store, 'carol', 'credit_manager')}"}
    admin = {"Authorization": f"Bearer {users.add_user(store, 'root', 'admin')}"}
    env = {"O2C_DATABASE_URL": url, "O2C_LEDGER": str(args.ledger.resolve())}
    figures: dict[str, object] = {}
    with running_server(args.workdir.resolve(), {}, log=folder / "server.log", env=env) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        def post(path: str, body: dict, headers: dict) -> httpx.Response:
            return client.post(path, json=body, headers=headers)

        queue = post("/review_queue", {"include_decided": True}, manager).json()["queue"]
        ids = [row["customer_id"] for row in queue] or [
            row["customer_id"] for row in post("/credit_limits", {}, admin).json()["limits"]]
        figures["flagged_customers"] = len(queue)
        figures["review_queue_top50"] = timed(
            lambda i: post("/review_queue", {"top_k": 50}, manager), args.repeats)
        figures["decide_limit_override"] = timed(lambda i: post("/decide_limit", {
            "customer_id": ids[i % len(ids)], "decision": "override", "limit": 1000.0 + i,
            "reason": "benchmark"}, manager), args.repeats)
        figures["credit_limits_one"] = timed(
            lambda i: post("/credit_limits", {"customer_ids": [ids[i % len(ids)]]}, manager),
            args.repeats)
        figures["customer_first_call_loads_ledger"] = timed(
            lambda i: post("/customer", {"customer_id": ids[0]}, admin), 1)
        figures["customer_view"] = timed(
            lambda i: post("/customer", {"customer_id": ids[i % len(ids)]}, admin),
            args.repeats)
        figures["alerts_admin"] = timed(lambda i: post("/alerts", {}, admin), args.repeats)
        figures["alerts_stored"] = len(post("/alerts", {"limit": 5000}, admin).json()["alerts"])
    out = folder / "limits.csv"
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "o2c"), "limits", "export", "--out",
                    str(out)], check=True, env={**os.environ, **env,
                                                "O2C_WORKDIR": str(args.workdir.resolve())},
                   capture_output=True)
    figures["o2c_limits_export_s"] = round(time.perf_counter() - start, 2)
    figures["exported_rows"] = sum(1 for _ in out.open()) - 1
    for name, value in figures.items():
        print(f"{name:36} {value}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
