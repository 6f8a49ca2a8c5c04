"""One monitoring run: windows -> PSI (all rows) + Evidently (sample) + quality -> verdict ->
HTML reports and `summary.json` in the out folder (atomically) and an MLflow monitoring run.

`monitor` is the one public entry point; `o2c monitor` calls it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import mlflow
import pandas as pd

from features.kpis import kpi_components, kpi_report
from ledger.atomic import atomic_directory, atomic_file
from ledger.loader import Ledger
from monitoring import plots, reports
from monitoring.config import MonitoringConfig
from monitoring.psi import population_stability
from monitoring.quality import label_delay, quality_comparison
from monitoring.verdict import decide
from monitoring.windows import Window, monitored_features, outcomes_at_end, window_frame
from serving.champions import Champion, load_champion
from training.pipeline import MODEL_NAME
from training.registry import Registry

SUMMARY_FILE = "summary.json"
DRIFT_REPORT = "data_drift.html"
QUALITY_REPORT = "model_quality.html"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ChampionWindow:
    """What the champion's training run says about its data."""

    reference: Window | None
    """Its training window (issue dates from `train_from` to the day before `valid_from`)."""
    grace_days: int | None


def champion_window(champion: Champion) -> ChampionWindow:
    """The training window and label grace of the champion's MLflow run (None if not logged)."""
    params, tags = champion.run_params, champion.run_tags
    start = params.get("train_from") or tags.get("ledger_first_invoice")
    valid_from = params.get("valid_from")
    window = None
    if start and valid_from:
        window = Window("reference", dt.date.fromisoformat(start[:10]),
                        dt.date.fromisoformat(valid_from[:10]) - dt.timedelta(days=1))
    grace = params.get("grace_days")
    return ChampionWindow(window, int(grace) if grace is not None else None)


def monitor(
    ledger: Ledger, *, tracking: Registry, config: MonitoringConfig, current: Window,
    out: Path, reference: Window | None = None, latest: Path | None = None,
    grace_days: int | None = None, model_name: str = MODEL_NAME,
    progress: Progress | None = None,
) -> dict:
    """Monitor the champion of `model_name` on `current` against `reference`; return the summary.

    `reference` defaults to the champion's training window, `grace_days` to the one it was
    trained with. Writes `data_drift.html`, `model_quality.html` (when both windows have
    matured outcomes) and `summary.json` into `out` (replaced as a whole, atomically), logs them
    with the figures to an MLflow run of experiment `config.experiment` tagged with the model
    name and version, and, when `latest` is given, writes the summary there too (atomically).
    Raises LookupError without a champion, ValueError on empty or impossible windows.
    """
    step = progress or (lambda _message: None)
    step("loading the champion")
    champion = load_champion(model_name, tracking)
    trained = champion_window(champion)
    if reference is None:
        if trained.reference is None:
            raise ValueError("the champion's run does not log its training window; give "
                             "--reference-from and --reference-to")
        reference = trained.reference
    grace = grace_days if grace_days is not None else (trained.grace_days or 0)
    _check_out(out)

    step("building the windows' features and scores")
    end, outcomes = outcomes_at_end(ledger, grace_days=grace)
    for window in (reference, current):
        if window.start >= end:
            raise ValueError(f"the {window.name} window starts on {window.start}, after the "
                             f"ledger's last facts (it ends before {end})")
    ref = window_frame(ledger, reference, champion.model, outcomes)
    cur = window_frame(ledger, current, champion.model, outcomes)
    features = monitored_features(champion.model)
    categorical = [f for f in features if f in champion.model.categories]
    numeric = [f for f in features if f not in champion.model.categories]

    step(f"population stability over all {len(ref) + len(cur):,} rows (DuckDB)")
    psi = frame_psi(ref, cur, numeric=[*numeric, reports.SCORE], categorical=categorical,
                    bins=config.psi_bins)
    step("Evidently drift report on a sample")
    drift_snapshot, drift = reports.drift_report(
        reports.sample(ref, config.sample_rows, config.seed),
        reports.sample(cur, config.sample_rows, config.seed),
        numeric=numeric, categorical=categorical)
    step("model quality on matured outcomes")
    quality = quality_comparison(ref, cur, min_matured=config.min_matured)
    delay = label_delay(cur)
    step("receivables KPIs at the current window's end")
    kpis_as_of = current.end + dt.timedelta(days=1)
    kpis = kpi_report(kpi_components(ledger, kpis_as_of), kpis_as_of)
    feature_psi = dict(zip(psi["column"], psi["psi"], strict=True))
    score_psi = feature_psi.pop(reports.SCORE)
    verdict = decide(config=config, drifted_share=drift.drifted_share,
                     drifted_features=drift.drifted, feature_psi=feature_psi,
                     score_psi=score_psi, quality=quality, label_delay=delay)

    summary = {
        **verdict.as_dict(),
        "model": {"name": champion.name, "version": champion.version,
                  "training_run_id": champion.run_id},
        "ledger": {"source": str(ledger.source), "end": end.isoformat(),
                   "grace_days": grace},
        "windows": {"reference": {**reference.as_dict(), "invoices": len(ref)},
                    "current": {**current.as_dict(), "invoices": len(cur)}},
        "feature_drift": {
            "drifted_share": _number(drift.drifted_share), "drifted": drift.drifted,
            "features": len(drift.tests), "sample_rows": config.sample_rows,
            "not_compared": drift.not_compared,
            "tests": {c: _clean(t) for c, t in drift.tests.items()},
            "psi": {c: _number(v) for c, v in feature_psi.items()},
        },
        "prediction_drift": {
            "psi": _number(score_psi), "evidently": _clean(drift.score),
            "mean_reference": _number(ref["score"].mean()),
            "mean_current": _number(cur["score"].mean()),
        },
        "quality": _clean(quality),
        "label_delay": _clean(delay),
        "kpis": kpis,
        "thresholds": config.model_dump(),
    }

    step("writing reports and logging to MLflow")
    with atomic_directory(out) as staging:
        summary["reports"] = {"data_drift": DRIFT_REPORT}
        reports.save_html(drift_snapshot, staging / DRIFT_REPORT)
        ref_matured, cur_matured = ref[ref["matured"]], cur[cur["matured"]]
        if quality["judged"]:
            reports.save_html(reports.quality_report(
                reports.sample(ref_matured, config.sample_rows, config.seed),
                reports.sample(cur_matured, config.sample_rows, config.seed)),
                staging / QUALITY_REPORT)
            summary["reports"]["model_quality"] = QUALITY_REPORT
        summary["out"] = str(out)
        summary["mlflow_run_id"] = _log_run(summary, staging, tracking, config, psi, ref, cur,
                                            cur_matured if quality["current"] else None)
    if latest is not None:
        with atomic_file(latest) as temporary:
            temporary.write_text(dump(summary))
    return summary


def frame_psi(
    reference: pd.DataFrame, current: pd.DataFrame, *, numeric: list[str],
    categorical: list[str], bins: int,
) -> pd.DataFrame:
    """`population_stability` of two frames, in a DuckDB connection of its own."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        columns = [*numeric, *categorical]
        con.register("reference_rows", reference[columns])
        con.register("current_rows", current[columns])
        return population_stability(con, "reference_rows", "current_rows", numeric=numeric,
                                    categorical=categorical, n_bins=bins)
    finally:
        con.close()


def dump(summary: dict) -> str:
    """The summary as JSON text, keys sorted (the same inputs give the same text, but for the
    MLflow run id)."""
    return json.dumps(summary, sort_keys=True, indent=2, default=str)


def _log_run(
    summary: dict, staging: Path, tracking: Registry, config: MonitoringConfig,
    psi: pd.DataFrame, ref: pd.DataFrame, cur: pd.DataFrame, cur_matured: pd.DataFrame | None,
) -> str:
    """An MLflow run in the monitoring experiment, tied to the model version by tags."""
    runs = Registry(tracking.tracking_uri, config.experiment, tracking.artifact_location)
    windows = summary["windows"]
    name = (f"monitor {summary['model']['name']} v{summary['model']['version']} "
            f"{windows['current']['from']}..{windows['current']['to']}")
    with runs.start_run(name) as run:
        mlflow.set_tags({"model_name": summary["model"]["name"],
                         "model_version": summary["model"]["version"],
                         "training_run_id": summary["model"]["training_run_id"],
                         "verdict": summary["verdict"], "kind": "monitoring"})
        mlflow.log_params({f"{w}_{k}": windows[w][k] for w in windows for k in ("from", "to")})
        mlflow.log_params({"grace_days": summary["ledger"]["grace_days"],
                           "ledger_end": summary["ledger"]["end"],
                           "sample_rows": config.sample_rows})
        mlflow.log_metrics(_metrics(summary))
        figures = {"psi.png": plots.psi_plot(psi),
                   "score_shift.png": plots.score_shift_plot(ref["score"], cur["score"])}
        if cur_matured is not None:
            figures["current_calibration.png"] = plots.current_calibration_plot(cur_matured)
        for file, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{file}")
        summary["mlflow_run_id"] = run.info.run_id
        (staging / SUMMARY_FILE).write_text(dump(summary))
        mlflow.log_artifacts(str(staging), artifact_path="monitoring")
        return run.info.run_id


def _metrics(summary: dict) -> dict[str, float]:
    """The figures the verdict judged, as MLflow metrics (missing ones left out)."""
    quality = summary["quality"]
    values = {
        "drifted_share": summary["feature_drift"]["drifted_share"],
        "max_feature_psi": max(summary["feature_drift"]["psi"].values(), default=None),
        "score_psi": summary["prediction_drift"]["psi"],
        "auc_drop": quality["auc_drop"], "brier_rise": quality["brier_rise"],
        "calibration_gap": quality["calibration_gap"],
        "matured_share": summary["label_delay"]["matured_share"],
        "expected_late_share_immature": summary["label_delay"]["expected_late_share"],
        "verdict_level": ["ok", "warn", "alert"].index(summary["verdict"]),
        **{f"kpi_{key}": summary["kpis"][key]
           for key in ("dso", "best_dso", "add", "cei", "promise_kept_share")},
    }
    for window in ("reference", "current"):
        for key, value in (quality[window] or {}).items():
            values[f"{window}_{key}"] = value
    return {k: float(v) for k, v in values.items() if v is not None}


def _number(value: object) -> float | None:
    number = float(value)
    return None if not math.isfinite(number) else round(number, 6)


def _clean(values: object) -> object:
    """JSON-ready copy: floats rounded, NaN as None, numpy scalars as Python ones."""
    if isinstance(values, dict):
        return {k: _clean(v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [_clean(v) for v in values]
    if isinstance(values, bool) or values is None or isinstance(values, str):
        return values
    if hasattr(values, "item"):
        values = values.item()
    if isinstance(values, bool | int):
        return values
    if isinstance(values, float):
        return _number(values)
    return values


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier monitoring output."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    if any(out.iterdir()) and not (out / SUMMARY_FILE).exists():
        raise ValueError(f"--out {out} holds files but no {SUMMARY_FILE} of an earlier "
                         "monitoring run; refusing to replace it")
