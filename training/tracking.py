"""MLflow: where runs go, what identifies the data, how models are stored and read (data only,
never code), and the champion/challenger registry rule."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from ledger.loader import Ledger
from ledger.schema import TABLES
from models.pyfunc import DATA_FOLDER, LOADER_MODULE
from models.risk_model import RiskModel
from training.evaluation import binary_metrics

CHAMPION = "champion"
CHALLENGER = "challenger"

ChampionScorer = Callable[[RiskModel], tuple[float, float]]
"""Scores a model on the new model's validation examples: (AUC, Brier)."""

MODEL_REQUIREMENTS = [f"{package}=={metadata.version(package)}"
                      for package in ("mlflow", "lightgbm", "numpy", "pandas")]
"""What a logged model needs besides this package (which holds its loader): stated rather
than inferred, which would load the model again in a subprocess."""

STORED_DATA = (f"data/{DATA_FOLDER}", f"artifacts/{DATA_FOLDER}")
"""Where a logged model keeps its data folder: `data/` (logged with `loader_module`), or
`artifacts/` in versions logged earlier as models from code (only their data is read)."""


@dataclass(frozen=True)
class Tracking:
    """Where MLflow keeps runs and models."""

    tracking_uri: str
    experiment: str = "o2c-risk"
    artifact_location: str | None = None
    """Artifact root for a new experiment (beside a SQLite store); None = MLflow's default."""

    def activate(self) -> str:
        """Point MLflow at this store and experiment (creating it); return the experiment id."""
        mlflow.set_tracking_uri(self.tracking_uri)
        existing = mlflow.get_experiment_by_name(self.experiment)
        if existing is not None:
            experiment_id = existing.experiment_id
        else:
            experiment_id = mlflow.create_experiment(self.experiment,
                                                     artifact_location=self.artifact_location)
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id


def ledger_fingerprint(ledger: Ledger) -> dict[str, str]:
    """Content hash of the ledger's files (or tables), its date range and row counts."""
    digest = hashlib.sha256()
    source = Path(ledger.source)
    files = sorted(p for p in source.iterdir() if p.stem in TABLES) if source.is_dir() else (
        [source] if source.is_file() else [])
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    if not files:
        for table in TABLES:
            digest.update(str(ledger.rows(f"SELECT * FROM {table} ORDER BY ALL")).encode())
    first, last = ledger.rows("SELECT min(issue_date), max(issue_date) FROM invoices")[0]
    info = {"ledger_sha256": digest.hexdigest(), "ledger_first_invoice": str(first),
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


@dataclass(frozen=True)
class Promotion:
    """The registry decision for a new model version."""

    version: str
    promoted: bool
    reason: str
    champion_version: str | None = None
    champion_auc: float | None = None
    champion_brier: float | None = None


def register_and_promote(
    model_name: str, model_uri: str, *, auc: float, brier: float,
    score_champion: ChampionScorer, run_id: str,
) -> Promotion:
    """Register the logged model as `challenger`; make it `champion` if it beats the champion.

    `score_champion(model) -> (auc, brier)` re-scores the current champion on the same
    validation examples as the new model, so the two are compared on one window.
    """
    client = MlflowClient()
    version = mlflow.register_model(model_uri, model_name, tags={"run_id": run_id}).version
    client.set_registered_model_alias(model_name, CHALLENGER, version)
    try:
        champion = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        champion = None
    if champion is None:
        client.set_registered_model_alias(model_name, CHAMPION, version)
        return Promotion(version, True, "no champion yet")
    try:
        champ_auc, champ_brier = score_champion(load_risk_model(model_name, str(champion.version)))
    except (MlflowException, LookupError, ValueError) as exc:
        return Promotion(version, False, f"champion v{champion.version} could not be scored on "
                         f"this validation window ({exc}); kept it", champion.version)
    better = auc > champ_auc and brier < champ_brier
    verdict = "beats" if better else "does not beat"
    reason = (f"AUC {auc:.4f} vs {champ_auc:.4f}, Brier {brier:.4f} vs {champ_brier:.4f}: "
              f"{verdict} champion v{champion.version}")
    if better:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    return Promotion(version, better, reason, champion.version, champ_auc, champ_brier)


def model_scorer(frame: pd.DataFrame, labels: np.ndarray) -> ChampionScorer:
    """A `score_champion` that scores `frame` against `labels`."""

    def score(model: RiskModel) -> tuple[float, float]:
        metrics = binary_metrics(labels, model.predict_proba(frame))
        return metrics["auc"], metrics["brier"]

    return score


def load_risk_model(model_name: str, version: str) -> RiskModel:
    """Read a registered model version's data into a `RiskModel` of the installed package.

    Only `booster.txt` and `model.json` are read, copied to a temporary folder first: nothing
    in the artifact store runs and nothing is written there, so a read-only store works.
    Raises LookupError naming the version and the location when its data cannot be read.
    """
    root = MlflowClient().get_model_version_download_uri(model_name, version).rstrip("/")
    where = f"version {version} of model {model_name!r} ({root})"
    try:
        for folder in STORED_DATA:
            present = {Path(f.path).name
                       for f in mlflow.artifacts.list_artifacts(f"{root}/{folder}")}
            if present:
                break
        else:
            raise LookupError(f"{where} holds no model data ({' or '.join(STORED_DATA)})")
        missing = [name for name in RiskModel.FILES if name not in present]
        if missing:
            raise LookupError(f"{where} lacks {', '.join(missing)} in {folder}")
        with tempfile.TemporaryDirectory() as local, _no_progress_bar():
            for name in RiskModel.FILES:
                mlflow.artifacts.download_artifacts(f"{root}/{folder}/{name}", dst_path=local)
            return RiskModel.load(local)
    except (MlflowException, OSError, ValueError, KeyError, TypeError,
            lgb.basic.LightGBMError) as exc:
        raise LookupError(f"{where}: cannot read its model data: {exc}") from exc


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow's download progress bar off for a moment (it would print at every model load)."""
    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


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
            signature=infer_signature(example, model.predict_proba(example)),
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


@dataclass
class TrainingRun:
    """What every training run produced and decided; each trainer's result extends it."""

    model_name: ClassVar[str]
    summary_metrics: ClassVar[tuple[str, ...]] = ("auc", "brier", "ece")
    """The validation metrics `summary` reports."""

    metrics: dict[str, float]
    """The model on its validation rows."""
    n_train: int
    n_valid: int
    run_id: str
    promotion: Promotion
    predictions: pd.DataFrame
    """The validation rows with the model's score and the label."""
    model: RiskModel

    def summary(self) -> dict:
        """Headline metrics, sizes, run and registry decision, JSON-friendly (what the CLI
        prints)."""
        return {**{k: json_number(self.metrics[k]) for k in self.summary_metrics},
                "n_train": self.n_train, "n_valid": self.n_valid, "run_id": self.run_id,
                "model_name": self.model_name, "model_version": self.promotion.version,
                "promoted": self.promotion.promoted, "promotion_reason": self.promotion.reason}


def json_number(value: object) -> float | None:
    """A metric for JSON output: rounded, NaN as None."""
    number = float(value)
    return None if not np.isfinite(number) else round(number, 6)


HEADLINE = ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile")
"""The validation metrics every model reports, and baselines beside it."""


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


def log_comparison(comparison: pd.DataFrame) -> None:
    """Headline metrics of the model (`auc`) and of each baseline (`baseline_<name>_auc`)."""
    for _, row in comparison.iterrows():
        prefix = "" if row["model"] == "lightgbm" else f"baseline_{row['model']}_"
        mlflow.log_metrics({f"{prefix}{k}": float(row[k]) for k in HEADLINE
                            if np.isfinite(row[k])})


def publish_model(
    model_name: str, model: RiskModel, examples: pd.DataFrame, labels: np.ndarray,
    metrics: dict[str, float], run_id: str,
) -> Promotion:
    """Log the model in the active run, register it as challenger, promote it if it beats the
    champion on `examples`, and tag the run with the decision."""
    logged = log_risk_model(model, examples)
    promotion = register_and_promote(
        model_name, logged.model_uri, auc=metrics["auc"], brier=metrics["brier"],
        score_champion=model_scorer(examples, labels), run_id=run_id)
    mlflow.set_tags({"model_version": promotion.version, "promoted": str(promotion.promoted),
                     "promotion_reason": promotion.reason})
    return promotion
