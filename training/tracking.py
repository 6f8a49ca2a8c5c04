"""What a training run logs to MLflow: parameters, data fingerprints, metrics beside the
baselines, and the model as data (never code). The registry itself is `training.registry`."""

from __future__ import annotations

import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from ledger.digest import content_sha256
from ledger.loader import Ledger
from ledger.schema import TABLES
from models.pyfunc import DATA_FOLDER, LOADER_MODULE, RiskModelPyfunc
from models.risk_model import RiskModel

MODEL_REQUIREMENTS = [f"{package}=={metadata.version(package)}"
                      for package in ("mlflow", "lightgbm", "numpy", "pandas")]
"""What a logged model needs besides this package (which holds its loader): stated rather
than inferred, which would load the model again in a subprocess."""


def ledger_fingerprint(ledger: Ledger) -> dict[str, str]:
    """Content hash of the ledger's files (or tables), its date range and row counts."""
    first, last = ledger.rows("SELECT min(issue_date), max(issue_date) FROM invoices")[0]
    info = {"ledger_sha256": content_sha256(ledger), "ledger_first_invoice": str(first),
            "ledger_last_invoice": str(last)}
    info.update({f"ledger_rows_{t}": str(ledger.count(t)) for t in TABLES})
    return info


def git_commit() -> str:
    """The project's current git commit, or 'unknown' outside a checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parent,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_risk_model(model: RiskModel, examples: pd.DataFrame) -> mlflow.models.model.ModelInfo:
    """Log `model` in the active run as a pyfunc named `model`, with signature and example.

    The model is stored as data only (`data/risk_model/`: LightGBM's text model and JSON); its
    MLmodel names the installed `models.pyfunc` as the loader, so no code goes into the store.
    """
    example = pyfunc_input(examples.head(5)[model.features])
    with tempfile.TemporaryDirectory() as folder:
        saved = model.save(Path(folder) / DATA_FOLDER)
        return mlflow.pyfunc.log_model(
            name="model", loader_module=LOADER_MODULE, data_path=str(saved),
            signature=infer_signature(example, RiskModelPyfunc(model).predict(example)),
            input_example=example, pip_requirements=MODEL_REQUIREMENTS,
        )


def pyfunc_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature columns with the plain dtypes of the logged signature: strings as objects,
    numbers and flags as floats (dates and other columns left out)."""
    plain = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
            plain[column] = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            plain[column] = values.astype(float)
    return pd.DataFrame(plain, index=frame.index)


def flatten_params(values: dict, prefix: str = "") -> dict[str, object]:
    """Nested configuration as flat MLflow parameters (`lightgbm.num_leaves`)."""
    flat: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def json_number(value: object) -> float | None:
    """A metric for JSON output: rounded, NaN as None."""
    number = float(value)
    return None if not np.isfinite(number) else round(number, 6)


HEADLINE = ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile", "base_rate")
"""The validation metrics every model reports, and baselines beside it."""
MODEL_ROW = "model"
"""The model's row in a comparison with its baselines."""


def log_run_context(
    ledger: Ledger, model_name: str, model: RiskModel, *, config_params: dict,
    fit_info: dict, counts: dict[str, dict[str, int]], **params: object,
) -> None:
    """What every training run logs: parameters, data fingerprint, git commit, fit details,
    example counts (`examples_<split>_<count>`) and the feature list."""
    mlflow.log_params({**params, **flatten_params(config_params),
                       **{k: v for k, v in fit_info.items() if not isinstance(v, float)},
                       "n_features": len(model.features)})
    mlflow.set_tags({**ledger_fingerprint(ledger), "git_commit": git_commit(),
                     "model_name": model_name})
    mlflow.log_metrics({k: float(v) for k, v in fit_info.items() if isinstance(v, float)})
    mlflow.log_metrics({f"examples_{split}_{k}": v for split, values in counts.items()
                        for k, v in values.items()})
    mlflow.log_dict({"features": model.features, "categories": model.categories},
                    "features.json")


def log_comparison(comparison: pd.DataFrame, headline: tuple[str, ...] = HEADLINE) -> None:
    """Headline metrics of the model (`auc`) and of each baseline (`baseline_<name>_auc`)."""
    for _, row in comparison.iterrows():
        prefix = "" if row["model"] == MODEL_ROW else f"baseline_{row['model']}_"
        mlflow.log_metrics({f"{prefix}{k}": float(row[k]) for k in headline
                            if np.isfinite(row[k])})
