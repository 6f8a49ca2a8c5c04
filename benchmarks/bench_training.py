"""Benchmark of one training run on a large synthetic ledger (a script, not a test).

    .venv/bin/python benchmarks/bench_training.py                # ~2M invoices, cached
    .venv/bin/python benchmarks/bench_training.py --ledger DIR   # an existing ledger folder

Times the late-payment task (`training.trainer.train_task`: examples, candidates by
cross-validation, refit and calibration, baselines, evaluation, MLflow logging and
registration into a temporary SQLite store) end to end with the default configuration, and
reports each step with the process's peak memory by the end of it, the example counts and
the model's AUC against the ground truth's AUC on the same validation invoices. Measure the
whole process as a user runs it:

    flock /tmp/bigbench.lock /usr/bin/time -v .venv/bin/python benchmarks/bench_training.py

Targets: training on 2 million invoices in <= 2 minutes on 2 cores (issue 4), with a peak
memory <= 6 GiB (issue 13).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ledger(args: argparse.Namespace) -> Path:
    """The ledger to train on: given, or generated once into the cache folder."""
    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger

    if args.ledger:
        return Path(args.ledger)
    folder = Path(args.cache) / f"ledger-c{args.customers}-m{args.months}-s{args.seed}"
    if not (folder / "invoices.parquet").exists():
        print(f"generating {folder} ...", flush=True)
        write_ledger(generate_ledger(SyntheticConfig(customers=args.customers,
                                                     months=args.months, seed=args.seed)),
                     folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", help="existing ledger folder (else one is generated)")
    parser.add_argument("--customers", type=int, default=15_000, help="generated customers")
    parser.add_argument("--months", type=int, default=60, help="generated months")
    parser.add_argument("--seed", type=int, default=0, help="generated ledger's seed")
    parser.add_argument("--cache", default=str(ROOT / "work" / "bench"),
                        help="folder that keeps generated ledgers between runs")
    parser.add_argument("--valid-months", type=int, default=6,
                        help="validate on the last N months of the ledger")
    args = parser.parse_args()

    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from ledger import load_ledger
    from ledger.summary import ledger_end
    from training.config import TrainingConfig
    from training.registry import Registry
    from training.tasks import LATE_PAYMENT
    from training.trainer import train_task

    folder = _ledger(args)
    started = time.perf_counter()
    ledger = load_ledger(folder, validate=False)
    loaded = time.perf_counter() - started
    end = ledger_end(ledger)
    valid_from = (pd.Timestamp(end) - pd.DateOffset(months=args.valid_months)).date()
    steps: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as store:
        registry = Registry(f"sqlite:///{store}/mlflow.db", "bench",
                            Path(store, "artifacts").as_uri())
        begin = time.perf_counter()

        def mark(step: str) -> None:
            """Note each step as it starts, and say so at once (a long run can be followed)."""
            steps.append((step, time.perf_counter(), _peak_gib()))
            print(f"  {steps[-1][1] - begin:7.1f} s  peak {steps[-1][2]:5.2f} GiB  {step}",
                  flush=True)

        result = train_task(LATE_PAYMENT, ledger, valid_from=valid_from,
                            config=TrainingConfig(), registry=registry, progress=mark)
        total = time.perf_counter() - begin
    marks = [(t, peak) for _, t, peak in steps[1:]] + [(begin + total, _peak_gib())]
    truth = pd.read_parquet(folder / "truth_invoices.parquet") if (
        folder / "truth_invoices.parquet").exists() else None

    invoices = ledger.count("invoices")
    print(f"\nledger {folder}: {invoices:,} invoices, valid_from {valid_from} ({dt.date.today()})")
    print(f"{'load ledger':28s} {loaded:7.1f} s")
    rounds = {}
    for (name, at, _), (following, peak) in zip(steps, marks, strict=True):
        label = name if not name.startswith("cross-validating") else "cross-validating"
        seconds, _ = rounds.get(label, (0.0, 0.0))
        rounds[label] = (seconds + following - at, peak)
    for name, (seconds, peak) in rounds.items():
        print(f"{name:28s} {seconds:7.1f} s   peak RSS by its end {peak:5.2f} GiB")
    print(f"{'training run, total':28s} {total:7.1f} s   (target <= 120 s)")
    print(f"{'peak RSS':28s} {_peak_gib():7.2f} GiB (target <= 6)")
    print(f"training examples {result.n_train:,}; validation invoices {result.n_valid:,}; "
          f"model {type(result.model).__name__}; {result.decision.reason}")
    print(f"AUC {result.metrics['auc']:.4f}, ECE {result.metrics['ece']:.4f}")
    if truth is not None:
        joined = result.predictions.merge(truth, on="invoice_id")
        truth_auc = roc_auc_score(joined["late"], joined["p_late_true"])
        ratio = result.metrics["auc"] / truth_auc
        print(f"ground-truth AUC {truth_auc:.4f}; model / truth {ratio:.3f}")


def _peak_gib() -> float:
    """The process's peak resident memory so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


if __name__ == "__main__":
    main()
