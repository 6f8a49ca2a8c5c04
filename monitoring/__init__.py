"""Drift and model-quality monitoring of the late-payment champion (Evidently 0.7 + DuckDB).

config (thresholds) -> windows (features at issue, scores, matured labels) -> psi (exact, all
rows) + reports (Evidently on a sample) + quality (matured outcomes, label delay) -> verdict
-> run.monitor (HTML, summary.json, MLflow run). Only `o2c` imports this package.
"""
