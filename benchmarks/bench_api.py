"""Benchmark of the served API over HTTP on the loopback (a script, not a test).

    .venv/bin/python benchmarks/bench_api.py                 # demo-sized models, cached
    .venv/bin/python benchmarks/bench_api.py --workdir work  # the models of `make demo`

Starts `o2c serve` on a free 127.0.0.1 port over a working folder with trained champions and
a snapshot (by default one built once into work/bench/api-c1500-m30: the demo's ledger,
trained and scored; scored again when its snapshot was written by an older version; delete
the folder to train again), then measures:

- single-invoice `/score_invoices` at 100 and 200 requests/s, open loop: each request is
  sent at its scheduled time whether or not earlier ones have answered, and its latency runs
  from that time (so queueing counts);
- one 1,000-invoice batch (sequential repeats on one keep-alive connection of the standard
  library's client, the body encoded once: the service's latency, not an HTTP library's);
- `/worklist` with `top_k` 100 (sequential repeats);
- in this process, the server's code on the same champions and snapshot: wall and CPU time
  of `Scorer.score_rows` for the 1,000 invoices, and of its parts (features, probabilities
  with TreeSHAP contributions, reason texts). CPU time is the steadier figure on a machine
  other jobs share.

Goals: p99 <= 25 ms for one invoice at 200 requests/s with no errors (issue 6); a
1,000-invoice batch with reason codes <= 100 ms (issue 13). The load generator runs on the
same 2 cores as the server. The late-payment champion's family and size are printed: its
TreeSHAP reason codes cost its `explain_cost` (over its trees, each leaf's depth squared)
steps per invoice, which `[training.candidates] explain_budget` bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bentoml
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the server runs (in-process figures)

from serving.local import running_server  # noqa: E402
from serving.schemas import PostedInvoice, ScoredInvoice  # noqa: E402

KEY = "bench-admin-key-0001"
HEADERS = {"Authorization": f"Bearer {KEY}"}
AS_OF = "2026-06-01"


@bentoml.service(name="o2c_risk_batching_trial", workers=1)
class BatchingTrial:
    """The experiment behind `--batching`: single invoices through BentoML's adaptive
    batching (`batchable=True`), one `Scorer` call per batch. Not the product's API: its body
    has no `as_of`, which a batchable API (one list argument) cannot carry."""

    def __init__(self) -> None:
        from o2c.settings import load_settings
        from serving.service import _settle, build_scorer

        self.scorer = build_scorer(load_settings())
        _settle()

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=25)
    def score_invoices(self, invoices: list[PostedInvoice]) -> list[ScoredInvoice]:
        """Invoices of many requests, scored in one call."""
        rows = self.scorer.score_invoices([i.model_dump() for i in invoices])
        return [ScoredInvoice(**row) for row in rows]


def _workdir(args: argparse.Namespace) -> Path:
    """A working folder with champions and a snapshot: given, or built once into the cache."""
    if args.workdir:
        return Path(args.workdir).resolve()
    folder = Path(args.cache) / f"api-c{args.customers}-m30"
    work = folder / "work"
    if (work / "snapshots").is_dir() and _servable(work):
        return work
    o2c = str(Path(sys.executable).parent / "o2c")
    env = {**os.environ, "O2C_WORKDIR": str(work)}
    ledger = folder / "ledger"
    print(f"building {folder} (generate, train, score; a few minutes) ...", flush=True)
    for command in (
        ["generate", "--customers", str(args.customers), "--months", "30", "--seed", "42",
         "--shock-month", "25", "--out", str(ledger)],
        ["train", "--ledger", str(ledger), "--valid-from", "2025-12-01"],
        ["score", "--ledger", str(ledger), "--as-of", AS_OF],
    ):
        done = {"generate": (ledger / "invoices.parquet").exists(),
                "train": (work / "mlflow.db").exists()}
        if not done.get(command[0], False):
            subprocess.run([o2c, *command], env=env, check=True, stdout=subprocess.DEVNULL)
    return work


def _servable(work: Path) -> bool:
    """Whether the latest snapshot in `work` can be served by this version (else say why)."""
    from serving.portfolio import latest_portfolio_dir
    from serving.state import check_snapshot

    try:
        check_snapshot(latest_portfolio_dir(work / "snapshots") or work / "snapshots")
    except (ValueError, FileNotFoundError) as exc:
        print(f"cached snapshot not servable ({exc}): scoring again", flush=True)
        return False
    return True


def _champion(work: Path) -> str:
    """The late-payment champion's family and size, read from the registry of `work`."""
    from o2c.settings import load_settings
    from serving.champions import load_champion

    os.environ["O2C_WORKDIR"] = str(work)
    settings = load_settings()
    registry = settings.registry()
    model = load_champion("late-payment-risk", registry).model
    booster = getattr(model, "booster", None)
    if booster is None:
        return f"late-payment champion: {type(model).__name__} over {len(model.features)} features"
    trees = booster.dump_model()["tree_info"]
    leaves = sum(t["num_leaves"] for t in trees) / max(1, len(trees))
    return (f"late-payment champion: LightGBM, {len(trees)} trees, {leaves:.1f} leaves on "
            f"average, {len(model.features)} features, TreeSHAP cost {model.explain_cost():,} "
            f"steps per invoice ({model.metadata.get('chosen', '?')})")


def _in_process(work: Path, invoices: list[dict], repeats: int) -> dict[str, dict]:
    """Wall and CPU milliseconds (medians over `repeats`) of the server's scoring code in this
    process, on the champions and snapshot of `work`, for `invoices` at once, by part."""
    import pandas as pd

    from models.reasons import reason_codes
    from o2c.settings import load_settings
    from serving.service import build_scorer

    os.environ["O2C_WORKDIR"] = str(work)
    scorer = build_scorer(load_settings())
    model, count = scorer.model, scorer.reason_count
    rows = scorer.prepare([PostedInvoice.model_validate_json(json.dumps(invoice)).model_dump()
                           for invoice in invoices])
    features = scorer.posted.build(pd.DataFrame(rows))
    both = getattr(model, "predict_with_contributions", None)
    scored = both(features) if both else (model.predict_proba(features),
                                           model.contributions(features))
    parts = {
        "score_rows, with reasons": lambda: scorer.score_rows(rows),
        "score_rows, reasons false": lambda: scorer.score_rows(rows, reasons=False),
        "  features of posted invoices": lambda: scorer.posted.build(pd.DataFrame(rows)),
        "  probabilities + TreeSHAP": lambda: both(features) if both else None,
        "  probabilities alone": lambda: model.predict_proba(features),
        "  reason texts": lambda: reason_codes(model, features, top=count, lowers=False,
                                               contributions=scored[1]),
    }
    figures = {}
    for name, call in parts.items():
        call()
        wall, cpu = [], []
        for _ in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        figures[name] = {"wall_ms": statistics.median(wall), "cpu_ms": statistics.median(cpu)}
    return figures


def _server(work: Path, batching: bool = False) -> contextlib.AbstractContextManager[str]:
    """`o2c serve` (or the batching trial) over `work`, one OpenMP thread, as the CLI sets."""
    trial = [str(Path(sys.executable).parent / "bentoml"), "serve",
             "benchmarks.bench_api:BatchingTrial", "--host", "127.0.0.1"]
    return running_server(work, {KEY: "admin"}, log=work.parent / "bench-server.log",
                          command=trial if batching else None,
                          env={"OMP_NUM_THREADS": "1"}, cwd=ROOT)


def _invoices(url: str, count: int) -> list[dict]:
    """`count` plausible invoices of customers in the snapshot, in their own currencies."""
    limits = httpx.post(f"{url}/credit_limits", json={}, headers=HEADERS, timeout=60).json()
    customers = [row["customer_id"] for row in limits["limits"]]
    currency = {}
    for customer_id in customers[:50]:
        profile = httpx.post(f"{url}/customer", json={"customer_id": customer_id},
                             headers=HEADERS, timeout=60).json()
        if profile["open_invoices"]:
            currency[customer_id] = profile["open_invoices"][0]["currency"]
    known = list(currency)
    return [{"invoice_id": f"B{i}", "customer_id": known[i % len(known)],
             "issue_date": "2026-05-20", "due_date": "2026-06-19",
             "amount": float(500 + 37 * i % 20_000), "currency": currency[known[i % len(known)]]}
            for i in range(count)]


class _Connections:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams for one fixed POST: cheap
    enough (a fraction of httpx's CPU) to send 200 requests/s from the server's own cores."""

    def __init__(self, url: str, path: str, body: dict) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        payload = json.dumps(body).encode()
        self.request = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def post(self) -> int:
        """Send the request on an idle connection (or a new one); the response's status.
        A connection the server closed while idle (keep-alive timeout) is replaced."""
        while True:
            if self.idle:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self.opened.append(writer)
            try:
                writer.write(self.request)
                await writer.drain()
                line = await reader.readline()
            except ConnectionError:
                line = b""
            if line:
                break
            writer.close()
        status = int(line.split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def _open_loop(url: str, body: dict, rate: float, seconds: float) -> dict:
    """Requests at `rate` per second for `seconds`, each sent at its scheduled time."""
    total = int(rate * seconds)
    latencies = np.full(total, np.nan)
    errors: list[str] = []
    connections = _Connections(url, "/score_invoices", body)
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            status = await asyncio.wait_for(connections.post(), timeout=30)
            if status != 200:
                errors.append(str(status))
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            errors.append(type(exc).__name__)
        latencies[i] = (time.perf_counter() - scheduled) * 1000

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    connections.close()
    return {"requests": total, "errors": len(errors), "achieved_rps": total / elapsed,
            **_percentiles(latencies)}


def _percentiles(ms: np.ndarray) -> dict:
    return {"p50_ms": float(np.nanpercentile(ms, 50)), "p99_ms": float(np.nanpercentile(ms, 99)),
            "max_ms": float(np.nanmax(ms))}


def _sequential(url: str, path: str, body: dict, repeats: int) -> dict:
    """`repeats` requests one after the other on one keep-alive connection of the standard
    library's client, the body encoded once: the service's latency, not a client's (httpx
    spends about 25 ms of its own on a 1,000-invoice request and its 600 KB answer)."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    headers = {**HEADERS, "Content-Type": "application/json"}
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    times = []
    try:
        for attempt in range(repeats + 1):  # the first one warms up
            started = time.perf_counter()
            connection.request("POST", path, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            if attempt:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return {"requests": repeats, **_percentiles(np.array(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="working folder with champions and a snapshot "
                                          "(else one is built into the cache)")
    parser.add_argument("--customers", type=int, default=1500, help="generated customers")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="folder for the generated working folder")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="duration of each open-loop run")
    parser.add_argument("--batching", action="store_true",
                        help="also run the single-invoice loads through the adaptive-batching "
                             "trial service (BatchingTrial) for comparison")
    args = parser.parse_args()
    work = _workdir(args)
    with _server(work) as url:
        invoices = _invoices(url, 1000)
        single = {"invoices": invoices[:1]}
        _sequential(url, "/score_invoices", single, 50)  # warm up
        rows = {}
        for rate in (100, 200):
            rows[f"score 1 invoice @ {rate} rps"] = asyncio.run(
                _open_loop(url, single, rate, args.seconds))
        rows["score 1,000-invoice batch"] = _sequential(url, "/score_invoices",
                                                        {"invoices": invoices}, 20)
        rows["  same, reasons false"] = _sequential(
            url, "/score_invoices", {"invoices": invoices, "reasons": False}, 20)
        rows["worklist top 100"] = _sequential(url, "/worklist", {"top_k": 100}, 100)
        info = httpx.get(f"{url}/model_info", headers=HEADERS, timeout=30).json()
    if args.batching:
        with _server(work, batching=True) as url:
            _sequential(url, "/score_invoices", single, 50)
            for rate in (100, 200):
                rows[f"batchable trial @ {rate} rps"] = asyncio.run(
                    _open_loop(url, single, rate, args.seconds))
    print(f"workdir {work}; snapshot as of {info['snapshot']['as_of']}, "
          f"{info['snapshot']['rows']}")
    print(_champion(work))
    print(f"in process, {len(invoices):,} invoices (medians of 20; OMP_NUM_THREADS=1 as the "
          "server; TreeSHAP by look-up for small trees, else LightGBM's on every core):")
    for name, row in _in_process(work, invoices, 20).items():
        print(f"{name:32} wall {row['wall_ms']:7.1f} ms   CPU {row['cpu_ms']:7.1f} ms")
    print(f"{'measure':32} {'requests':>8} {'errors':>6} {'rps':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    for name, row in rows.items():
        print(f"{name:32} {row['requests']:>8} {row.get('errors', 0):>6} "
              f"{row.get('achieved_rps', float('nan')):>6.0f} {row['p50_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}")


if __name__ == "__main__":
    main()
