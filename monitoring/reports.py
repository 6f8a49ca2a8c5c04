"""Evidently 0.7 reports on a sample of each window: feature and score drift, model quality.

Evidently's drift tests cost time per row and per column (see `benchmarks/`), so they run
on a seeded sample of at most `sample_rows` rows per window; the exact per-feature PSI over
all rows is `monitoring.psi`. Evidently picks the test per column (on more than 1,000 rows:
normed Wasserstein distance for numbers, Jensen-Shannon distance for categories, drifted at
0.1). The quality report (`ClassificationPreset`) uses matured invoices only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.metrics import ValueDrift
from evidently.presets import ClassificationPreset, DataDriftPreset

SCORE = "score"
LABEL = "late"


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows of `frame`, drawn reproducibly (all of them, in order, if fewer)."""
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).sort_index()


@dataclass
class DriftFigures:
    """What the drift report found, per column and overall."""

    tests: dict[str, dict] = field(default_factory=dict)
    """Per feature: `method`, `value` (the test's statistic), `threshold`, `drifted`."""
    score: dict = field(default_factory=dict)
    """The same for the score column (prediction drift)."""
    not_compared: dict[str, str] = field(default_factory=dict)
    """Features left out of the tests, each with why: no values in a window (a feature that
    is never known, e.g. utilization when every credit limit is 0 or unknown)."""

    @property
    def drifted(self) -> list[str]:
        """Features whose test says drifted, most drifted first."""
        return [c for c, t in sorted(self.tests.items(), key=lambda kv: -kv[1]["value"])
                if t["drifted"]]

    @property
    def drifted_share(self) -> float:
        """Share of the features that drifted."""
        return len(self.drifted) / len(self.tests) if self.tests else 0.0


def drifted(method: str, value: float, threshold: float) -> bool:
    """Evidently's rule: a p-value test drifts below its threshold, a distance at or above."""
    return value < threshold if "p_value" in method else value >= threshold


def _plain(frame: pd.DataFrame, numeric: list[str], categorical: list[str],
           extra: list[str]) -> pd.DataFrame:
    """Columns as Evidently reads them: floats and plain strings."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in categorical:
        values = frame[column].astype(object)
        out[column] = values.where(values.notna(), None)
    for column in extra:
        out[column] = frame[column]
    return out


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, *, numeric: list[str],
    categorical: list[str],
) -> tuple[Snapshot, DriftFigures]:
    """Evidently `DataDriftPreset` over the features and `ValueDrift` of the score.

    A feature with no values in either window cannot be tested (Evidently refuses it): it is
    left out and listed in `DriftFigures.not_compared`.
    """
    plain = {name: _plain(f, [*numeric, SCORE], categorical, [])
             for name, f in (("reference", reference), ("current", current))}
    not_compared = _without_values(plain, [*numeric, *categorical])
    numeric = [c for c in numeric if c not in not_compared]
    categorical = [c for c in categorical if c not in not_compared]
    definition = DataDefinition(numerical_columns=[*numeric, SCORE],
                                categorical_columns=list(categorical))
    features = [*numeric, *categorical]
    datasets = [Dataset.from_pandas(plain[name][[*features, SCORE]], data_definition=definition)
                for name in ("current", "reference")]
    snapshot = Report([DataDriftPreset(columns=features), ValueDrift(column=SCORE)]).run(
        datasets[0], datasets[1])
    figures = DriftFigures(not_compared=not_compared)
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        test = {"method": config["method"], "value": float(metric["value"]),
                "threshold": float(config["threshold"])}
        test["drifted"] = drifted(test["method"], test["value"], test["threshold"])
        if config["column"] == SCORE:
            figures.score = test
        else:
            figures.tests[config["column"]] = test
    return snapshot, figures


def _without_values(frames: dict[str, pd.DataFrame], columns: list[str]) -> dict[str, str]:
    """Columns with no value in some of the named frames, each with the frames it lacks."""
    empty = {c: [name for name, f in frames.items() if f[c].isna().all()] for c in columns}
    return {c: f"no values in the {' and '.join(names)} window{'s' if len(names) > 1 else ''}"
            for c, names in empty.items() if names}


def quality_report(reference: pd.DataFrame, current: pd.DataFrame) -> Snapshot:
    """Evidently `ClassificationPreset` of the score against matured outcomes."""
    definition = DataDefinition(
        numerical_columns=[SCORE], categorical_columns=[LABEL],
        classification=[BinaryClassification(target=LABEL, prediction_probas=SCORE,
                                              pos_label=1)])
    datasets = [Dataset.from_pandas(
        pd.DataFrame({SCORE: f[SCORE].astype(float).to_numpy(),
                      LABEL: f[LABEL].astype(int).to_numpy()}), data_definition=definition)
        for f in (current, reference)]
    return Report([ClassificationPreset()]).run(datasets[0], datasets[1])


def save_html(snapshot: Snapshot, path: Path) -> Path:
    """Write a report's standalone HTML."""
    snapshot.save_html(str(path))
    return path
