"""The payment-date model: quantiles of the days from due date to settlement, out of time.

Target `days_to_pay`: settlement date (the first day payments plus credit notes cover the
invoice) minus due date, in days, capped at `CAP_DAYS` (an invoice not settled 90 days after its
due date counts 90: "90 or more"). Known as of a cut-off C once due date + 90 < C, by cohort
(the invoices settled early are not kept while their slow siblings are dropped).

Examples, in one feature layout (the catalog's `model_inputs`):
- at issue: every invoice as of its issue date (`build_invoice_features`, state at issue);
- snapshot: every invoice open at periodic as-of dates A, overdue ones too (less than 90 days),
  with its age and state: the model learns the days to payment *given that the invoice is still
  open at A*, and its quantiles are never before A (`models.payment_dates.bounded`).
Training uses as-of dates and labels known before `valid_from`; validation, dates from it on.
A `valid_from` too close to the ledger's end for payments to be known moves earlier, by
`STEP_BACK_DAYS` at a time, as the serious-delinquency model's validation date does.

The model (`fit_payment_dates`): one LightGBM quantile booster per level (P10, P50, P90), early
stopped on the latest `inner_valid_share` of the training dates, then refitted on all of them
for as many rounds (the latest dates matter most: on the IBM sample the refit's P50 MAE is 5.5
days, the earlier fit's 5.7); P10 and P90 are conformalized on that later slice with the
earlier fit's misses there (conformalized quantile regression: each bound moved by the
empirical quantile of its misses, so that each misses about 10%), as the classifiers are
calibrated on out-of-fold scores and applied to their refit.

Baselines, scored on the same validation rows (and, like the model, never before the as-of
date for an open invoice): `due_date` (paid on its due date) and `customer_median` (the
customer's median days late over the invoices settled before the as-of date; the training
median without history). Judged by the mean absolute error of the P50 in days and the share of
outcomes inside [P10, P90] (`training.gate.judge_days`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from scipy.special import ndtri

from features import build_invoice_features, build_snapshot, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.forecast import outcome_levels, quantile_knots
from models.payment_dates import CAP_DAYS, LEVELS, NAMES, PaymentDateModel, bounded, pay_dates
from models.risk_model import numeric_design
from training import payment_date_plots as plots
from training.candidates import lightgbm_capacity
from training.config import TrainingConfig
from training.evaluation import age_band
from training.examples import TaskExamples, issue_examples, snapshot_dates
from training.fit import category_levels, feature_columns, inner_split, sample_rows
from training.gate import DaysChampion, champion_window, judge_days
from training.kind import Evaluation, Progress
from training.pipeline import MODEL_NAME as LATE_PAYMENT_NAME
from training.tracking import MODEL_ROW

MODEL_NAME = "payment-date"
LABEL = "days_to_pay"
"""The target: days from due date to settlement, capped at `CAP_DAYS`."""
SCORES = tuple(f"days_{n}" for n in NAMES)
"""Prediction columns: `days_p10`, `days_p50`, `days_p90`."""
HEADLINE = ("mae", "coverage", "width", "bias", "pinball")
"""Validation metrics of the model and each baseline."""
SEGMENTS = ("kind", "segment", "country", "age_band")
COVERAGE_TARGET = LEVELS[-1] - LEVELS[0]
"""Share of outcomes the P10-P90 interval should hold (0.8)."""
MIN_ROWS = 20
"""Segments with fewer validation rows get no metrics."""
STEP_BACK_DAYS = 28
"""When fewer than `MIN_ROWS` validation invoices from `valid_from` have a known payment (the
ledger ends less than 90 days after their due dates), the validation window starts this many
days earlier, again until enough are known: the model is then trained before, and judged
from, that earlier date (logged as `valid_from`, beside `valid_from_asked`)."""
MAX_COMMON = 0.5
"""Largest share of the errors' variance read as shared by the whole book."""
MAX_FIT_ROWS = 60_000
"""The boosters are fitted on at most this many training rows (a seeded sample, every date
kept): LightGBM's quantile objective re-estimates every leaf from its rows' residuals, which
makes each round several times dearer than a classifier's; the quantiles gain little from
more rows."""
LEARNING_RATE = 0.15
MAX_ROUNDS = 150
"""The boosters' step and most rounds: the API predicts the three quantiles of every invoice it
scores and the forecast those of every open invoice, so their trees are paid per invoice. On
the demo-sized ledger (1,500 x 30, valid from 2025-12-01) the classifiers' 0.05 ran the P50 to
2,000 rounds for a P50 MAE of 7.65 days; 0.15 and at most 300 rounds gave 7.71 with the same
coverage (76.5 %). At most 150 rounds (the P50 is the only booster that reaches it): on the
2,000 x 30 seed-11 ledger valid from 2026-01-01 MAE 5.94 -> 5.97 days (rule 6.82), 415 -> 267
trees, which predict 1 million open invoices in about half the time; the IBM sample's
boosters stop before 150 (MAE 5.57 both). A larger step instead (0.3, at most 150) gave 5.95
on the generated ledger but 5.64 on the IBM sample."""


# ----------------------------------------------------------------------------- examples


def outcome_days(ledger: Ledger, *, cutoff: dt.date) -> pd.DataFrame:
    """Per invoice issued before `cutoff`: `days_to_pay` from facts dated before it, and
    `matured` (due date + `CAP_DAYS` before `cutoff`: the whole cohort is known)."""
    settled = invoice_settlements(ledger, before=cutoff)
    due = pd.to_datetime(settled["due_date"])
    days = (pd.to_datetime(settled["settle_date"]) - due).dt.days
    return pd.DataFrame({
        "invoice_id": settled["invoice_id"],
        LABEL: days.fillna(CAP_DAYS).clip(upper=CAP_DAYS).to_numpy(dtype=float),
        "matured": (due + pd.Timedelta(days=CAP_DAYS) < pd.Timestamp(cutoff)).to_numpy(),
    })


def _with_outcomes(rows: pd.DataFrame, outcomes: pd.DataFrame, counts: dict[str, int],
                   prefix: str, *, keep_immature: bool) -> pd.DataFrame:
    """Rows with their `days_to_pay`: matured ones only (the others counted), or every row
    with a missing `days_to_pay` where it has not matured (`keep_immature`: validation rows
    that are predicted but not judged)."""
    joined = rows.merge(outcomes, on="invoice_id", how="left")
    matured = joined["matured"].fillna(False).astype(bool)
    counts[f"{prefix}_rows"] = len(rows)
    counts[f"{prefix}_immature{'' if keep_immature else '_left_out'}"] = int((~matured).sum())
    if keep_immature:
        return joined.assign(**{LABEL: joined[LABEL].where(matured)}).drop(columns="matured")
    return joined[matured].drop(columns="matured")


def examples_in(
    ledger: Ledger, invoices: pd.DataFrame, start: dt.date, cutoff: dt.date, *,
    config: TrainingConfig, max_dates: int, warmup_days: int, keep_immature: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Invoices issued in [start, cutoff) at issue, and invoices open (under `CAP_DAYS` past
    due) at snapshot dates in (start, cutoff), with matured labels from facts before `cutoff`
    (`keep_immature`: the others too, without a label)."""
    outcomes = outcome_days(ledger, cutoff=cutoff)
    counts: dict[str, int] = {}
    issued = invoices["issue_date"]
    window = (issued >= pd.Timestamp(start)) & (issued < pd.Timestamp(cutoff))
    parts = [_with_outcomes(invoices[window], outcomes, counts, "issue",
                            keep_immature=keep_immature)]
    last = cutoff - dt.timedelta(days=CAP_DAYS + 1)
    dates = [d for d in snapshot_dates(start, last, every_days=config.snapshot_every_days,
                                       max_dates=max_dates, warmup_days=warmup_days) if d > start]
    if dates:
        frames = [build_snapshot(ledger, day) for day in dates]
        open_rows = pd.concat(frames, ignore_index=True)
        open_rows = open_rows[open_rows["days_past_due"] < CAP_DAYS].assign(kind="snapshot")
        parts.append(_with_outcomes(open_rows, outcomes, counts, "snapshot",
                                    keep_immature=keep_immature))
    frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True, sort=False)
    frame = frame.sort_values(["as_of", "invoice_id"], kind="stable").reset_index(drop=True)
    frame["customer_median_days"] = customer_medians(ledger, frame)
    counts["rows"] = len(frame)
    return frame, counts


def payment_date_examples(
    ledger: Ledger, valid_from: dt.date, config: TrainingConfig,
) -> TaskExamples:
    """Training examples known before `valid_from`, validation examples from it on (labels
    known by the ledger's end); ValueError when either is too small to fit or judge."""
    end = ledger_end(ledger)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if end is None or first is None or not first < valid_from < end:
        raise ValueError(f"valid_from {valid_from} must fall inside the ledger's dates "
                         f"({first} to {end})")
    invoices = issue_examples(build_invoice_features(ledger))
    start = valid_from
    while True:
        valid, valid_counts = examples_in(ledger, invoices, start, end, config=config,
                                          max_dates=max(1, config.snapshot_max_dates // 4),
                                          warmup_days=0, keep_immature=True)
        earlier = start - dt.timedelta(days=STEP_BACK_DAYS)
        if valid[LABEL].notna().sum() >= MIN_ROWS or earlier <= first:
            break
        start = earlier  # too recent for payments to be known: judge on an earlier window
    train, train_counts = examples_in(ledger, invoices, first, start, config=config,
                                      max_dates=config.snapshot_max_dates, warmup_days=90)
    for name, frame in (("training", train), ("validation", valid.dropna(subset=[LABEL]))):
        if len(frame) < MIN_ROWS:
            raise ValueError(f"the {name} window of the payment-date model holds {len(frame)} "
                             f"invoices whose payment is known ({CAP_DAYS} days after their "
                             f"due date), {MIN_ROWS} needed; move --valid-from")
    if train["as_of"].nunique() < 2:
        raise ValueError("payment-date training needs invoices of at least two dates")
    return TaskExamples(
        train=train, valid=valid, trained_before=start, valid_from=start,
        counts={"train": train_counts, "valid": valid_counts},
        params={"train_from": str(first), "valid_from": str(start),
                "valid_from_asked": str(valid_from), "valid_to": str(end),
                "cap_days": CAP_DAYS})


# ----------------------------------------------------------------------------- baselines


def customer_medians(ledger: Ledger, rows: pd.DataFrame) -> np.ndarray:
    """Per row, the median days late (settlement - due date) of its customer's invoices
    settled before the row's as-of date; NaN without any."""
    settled = invoice_settlements(ledger).dropna(subset=["settle_date"])
    settled = settled.assign(
        settle_date=pd.to_datetime(settled["settle_date"]),
        days=(pd.to_datetime(settled["settle_date"])
              - pd.to_datetime(settled["due_date"])).dt.days.astype(float),
    ).sort_values(["settle_date", "customer_id", "invoice_id"], kind="stable")
    settled["median"] = (settled.groupby("customer_id", sort=False)["days"]
                         .transform(lambda days: days.expanding().median()))
    # the last settlement of a day holds the median of everything settled up to that day
    history = settled.drop_duplicates(["customer_id", "settle_date"], keep="last")
    query = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy(),
                          "as_of": pd.to_datetime(rows["as_of"]).to_numpy(),
                          "position": np.arange(len(rows))}).sort_values("as_of")
    history = history.assign(customer_id=history["customer_id"].astype(str))
    joined = pd.merge_asof(query, history[["customer_id", "settle_date", "median"]],
                           left_on="as_of", right_on="settle_date", by="customer_id",
                           allow_exact_matches=False)
    return joined.sort_values("position")["median"].to_numpy(dtype=float)


def baseline_days(train: pd.DataFrame, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rules' days to payment for `rows`, within the model's bounds: `due_date` (0) and
    `customer_median` (`customer_median_days`, else the training median)."""
    fallback = float(train[LABEL].median())
    rules = {"due_date": np.zeros(len(rows)),
             "customer_median": rows["customer_median_days"].fillna(fallback).to_numpy(float)}
    return {name: bounded(np.column_stack([days] * 3), rows)[:, 1]
            for name, days in rules.items()}


# ----------------------------------------------------------------------------- metrics


def days_metrics(y: np.ndarray, p50: np.ndarray, p10: np.ndarray | None = None,
                 p90: np.ndarray | None = None) -> dict[str, float]:
    """MAE and bias (mean P50 - outcome) in days; with an interval, its coverage (share of
    outcomes in [P10, P90]), mean width and the mean pinball loss of the three levels."""
    y, p50 = np.asarray(y, dtype=float), np.asarray(p50, dtype=float)
    values = {"mae": float(np.mean(np.abs(p50 - y))), "bias": float(np.mean(p50 - y)),
              "coverage": np.nan, "width": np.nan, "pinball": np.nan, "n": float(len(y))}
    if p10 is not None and p90 is not None:
        losses = [pinball(y, q, level) for q, level in zip((p10, p50, p90), LEVELS, strict=True)]
        values.update(coverage=float(np.mean((y >= p10) & (y <= p90))),
                      width=float(np.mean(p90 - p10)), pinball=float(np.mean(losses)))
    return values


def pinball(y: np.ndarray, q: np.ndarray, level: float) -> float:
    """Mean quantile (pinball) loss of predictions `q` at `level`."""
    gap = np.asarray(y, dtype=float) - np.asarray(q, dtype=float)
    return float(np.mean(np.maximum(level * gap, (level - 1) * gap)))


def segment_days(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """`days_metrics` of the model (and the rules' MAE) per value of each column of `by`."""
    rows = []
    for column in (c for c in by if c in frame.columns):
        for value, part in frame.groupby(frame[column].astype(str), sort=True, observed=True):
            entry = {"segment": column, "value": value, "n": len(part)}
            if len(part) >= MIN_ROWS:
                entry |= days_metrics(part[LABEL], *(part[s] for s in
                                                     ("days_p50", "days_p10", "days_p90")))
                entry |= {f"{name}_mae": float(np.mean(np.abs(part[f"rule_{name}"]
                                                             - part[LABEL])))
                          for name in ("due_date", "customer_median")}
            rows.append(entry)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- fitting


def fit_payment_dates(
    train: pd.DataFrame, config: TrainingConfig, progress: Progress | None = None,
) -> tuple[PaymentDateModel, dict]:
    """Quantile boosters early stopped on the latest `inner_valid_share` of the dates and
    refitted on all of them, the interval conformalized on those latest dates (see the module
    docstring)."""
    step = progress or (lambda _message: None)
    rows_available = len(train)
    train = sample_rows(train, min(config.max_train_rows, MAX_FIT_ROWS),
                        config.seed).reset_index(drop=True)
    features = feature_columns(train)
    categories = category_levels(train, features)
    fit_mask, inner_mask = inner_split(train, config.inner_valid_share)
    x_all = numeric_design(train, features, categories)
    y_all = train[LABEL].to_numpy(dtype=float)
    params = _params(config, len(train))
    fit_rows, inner_rows = fit_mask.to_numpy(), inner_mask.to_numpy()
    x_fit, y_fit = x_all[fit_rows], y_all[fit_rows]
    x_inner, y_inner = x_all[inner_rows], y_all[inner_rows]
    early, refit, rounds = {}, {}, {}
    for name, level in zip(NAMES, LEVELS, strict=True):
        step(f"fitting the P{round(level * 100)} booster")
        settings = {**params, "alpha": level}
        fit_set = lgb.Dataset(x_fit, y_fit, feature_name=features,
                              categorical_feature=list(categories))
        inner_set = lgb.Dataset(x_inner, y_inner, reference=fit_set)
        early[name] = lgb.train(
            settings, fit_set, num_boost_round=min(config.lightgbm.max_rounds, MAX_ROUNDS),
            valid_sets=[inner_set], valid_names=["inner"],
            callbacks=[lgb.early_stopping(config.lightgbm.early_stopping_rounds,
                                          verbose=False)])
        rounds[name] = max(1, early[name].best_iteration)
        refit[name] = lgb.train(settings, lgb.Dataset(x_all, y_all, feature_name=features,
                                                      categorical_feature=list(categories)),
                                num_boost_round=rounds[name])
    inner = train[inner_rows]
    raw = np.column_stack([early[n].predict(x_inner) for n in NAMES])
    offsets = conformal_offsets(raw, inner[LABEL].to_numpy(dtype=float), inner)
    shift = np.array([offsets[n] for n in NAMES])
    correlations = error_correlations(bounded(raw + shift, inner), inner)
    model = PaymentDateModel(boosters=refit, features=features, categories=categories,
                             offsets=offsets,
                             metadata={"task": MODEL_NAME, "label": LABEL, "cap_days": CAP_DAYS,
                                       **{f"rounds_{n}": r for n, r in rounds.items()},
                                       **correlations})
    info: dict[str, object] = {
        "chosen": "lightgbm_quantile", "family": "lightgbm", "rows_available": rows_available,
        "n_fit": int(fit_mask.sum()), "n_inner": int(inner_mask.sum()),
        "inner_from": str(inner["as_of"].min().date()),
        **{f"rounds_{n}": r for n, r in rounds.items()},
        **{f"offset_{n}": float(v) for n, v in offsets.items()}, **correlations,
    }
    return model, info


def error_correlations(days: np.ndarray, rows: pd.DataFrame) -> dict[str, float]:
    """How the model's errors on later rows (`days`: their quantiles from the earlier fit) go
    together, as the correlations of a Gaussian copula (`models.forecast`):
    `common_correlation`, the share of the errors' variance shared by every invoice of a week
    (the variance of the weekly mean beyond its sampling variance, customers as clusters), and
    `customer_correlation`, the share shared by one customer's invoices within a week (one-way
    ANOVA on the errors less their week's mean). Errors are the normal scores of the outcomes'
    levels in their quantile functions."""
    levels, knots = quantile_knots(days, rows["days_past_due"].to_numpy(dtype=float,
                                                                        na_value=-np.inf))
    u = outcome_levels(levels, knots, rows[LABEL].to_numpy(dtype=float))
    z = ndtri(np.clip(u, 0.01, 0.99))
    frame = pd.DataFrame({"z": z - z.mean(), "customer": rows["customer_id"].astype(str).to_numpy(),
                          "week": pd.to_datetime(rows["as_of"]).dt.to_period("W").to_numpy()})
    total = float(frame["z"].var())
    if not total > 0 or frame["week"].nunique() < 3:
        return {}
    cells = frame.groupby(["week", "customer"])["z"].agg(["sum", "size"])
    weeks = cells.groupby(level="week").sum()
    mean = weeks["sum"] / weeks["size"]
    spread = cells["sum"] - cells["size"] * mean.reindex(cells.index.get_level_values("week")
                                                         ).to_numpy()
    sampling = (spread**2).groupby(level="week").sum() / weeks["size"] ** 2
    common = max(0.0, float((mean**2).mean() - sampling.mean())) / total
    common = min(common, MAX_COMMON)
    within = (frame["z"] - mean.reindex(frame["week"]).to_numpy()).to_numpy()
    sizes = cells["size"].to_numpy()
    means = (cells["sum"] / cells["size"]).to_numpy() - mean.reindex(
        cells.index.get_level_values("week")).to_numpy()
    n, k = len(frame), len(sizes)
    if n <= k + 1:
        return {"common_correlation": round(common, 4)}
    between = float((sizes * means**2).sum()) / (k - 1)
    inside = float((within**2).sum() - (sizes * means**2).sum()) / (n - k)
    n0 = (n - (sizes**2).sum() / n) / (k - 1)
    customer = max(0.0, (between - inside) / n0) / total
    return {"common_correlation": round(common, 4),
            "customer_correlation": round(min(customer, 1 - common), 4)}


def conformal_offsets(raw: np.ndarray, y: np.ndarray, rows: pd.DataFrame) -> dict[str, float]:
    """Days to add to P10 and P90 so that, on these later rows, each misses about 10% of the
    outcomes (finite-sample conformal quantile of the misses); P50 is left as fitted."""
    days = bounded(raw, rows)
    n = len(y)
    level = min(1.0, np.ceil((n + 1) * (1 - LEVELS[0])) / n)
    low = float(np.quantile(days[:, 0] - y, level, method="higher"))
    high = float(np.quantile(y - days[:, 2], level, method="higher"))
    return {"p10": -low, "p50": 0.0, "p90": high}


def _params(config: TrainingConfig, rows: int) -> dict:
    """LightGBM quantile settings (LightGBM allows no monotone constraints with them)."""
    lgbm = config.lightgbm
    return {
        "objective": "quantile", "metric": "quantile",
        "learning_rate": max(lgbm.learning_rate, LEARNING_RATE),
        **lightgbm_capacity(rows, lgbm.num_leaves, 0.0025),
        "feature_fraction": lgbm.feature_fraction, "bagging_fraction": lgbm.bagging_fraction,
        "bagging_freq": 1, "lambda_l2": lgbm.lambda_l2,
        "num_threads": 1 if rows < 50_000 else lgbm.num_threads, "seed": config.seed,
        "deterministic": True, "force_col_wise": True, "verbose": -1,
    }


# ----------------------------------------------------------------------------- the task kind


class QuantileKind:
    """Quantiles of days to payment (`training.kind.TaskKind`): fitted by
    `fit_payment_dates`, judged by MAE and interval coverage beside the rules."""

    def fit(self, task, train, config, progress=None):  # noqa: ANN001, ANN201 (TaskKind)
        """`fit_payment_dates`; no candidates to compare (an empty table)."""
        model, info = fit_payment_dates(train, config, progress)
        return model, info, pd.DataFrame()

    def evaluate(self, task, examples, model, config):  # noqa: ANN001, ANN201
        """The model's quantiles and the rules' days on every validation row."""
        valid = examples.valid.copy()
        valid[list(SCORES)] = model.predict_days(valid)
        rules = baseline_days(examples.train, valid)
        for name, days in rules.items():
            valid[f"rule_{name}"] = days
        valid["age_band"] = age_band(valid["age_days"].clip(lower=0))
        judged = valid[valid[LABEL].notna()]
        y = judged[LABEL].to_numpy(dtype=float)
        scores = {MODEL_ROW: judged[list(SCORES)].to_numpy(),
                  **{name: judged[f"rule_{name}"].to_numpy() for name in rules}}
        comparison = pd.DataFrame(
            [{"model": MODEL_ROW, **days_metrics(y, judged["days_p50"], judged["days_p10"],
                                                 judged["days_p90"])}]
            + [{"model": name, **days_metrics(y, scores[name])} for name in rules])
        predictions = valid[[*task.keys, "kind", "due_date", *SCORES, LABEL]].join(
            pay_dates(valid["due_date"], valid[list(SCORES)].to_numpy()))
        return Evaluation(valid=valid, judged=judged, comparison=comparison,
                          metrics=comparison.iloc[0].drop("model").to_dict(),
                          segments=segment_days(judged, SEGMENTS),
                          predictions=predictions.reset_index(drop=True), scores=scores)

    def log(self, task, model, evaluation, fit_info, candidates):  # noqa: ANN001, ANN201
        """Per-kind metrics and the plots."""
        for kind, part in evaluation.judged.groupby("kind"):
            values = days_metrics(part[LABEL], part["days_p50"], part["days_p10"],
                                  part["days_p90"])
            mlflow.log_metrics({f"{kind}_{k}": v for k, v in values.items()
                                if np.isfinite(v)})
        for name, figure in plots.payment_date_figures(
                evaluation.judged, model, task.titles, evaluation.segments,
                COVERAGE_TARGET).items():
            mlflow.log_figure(figure, f"plots/{name}")

    def judge(self, task, evaluation, *, registry, customers, force, config,  # noqa: ANN001, ANN201
              fit_info):
        """`judge_days` against the rules and the champion."""
        champion = _champion(task, registry, evaluation.judged, customers)
        return judge_days(evaluation.comparison, champion=champion, force=force,
                          config=config.gate, target=COVERAGE_TARGET)


def _champion(task, registry, judged: pd.DataFrame, customers: list[str]) -> DaysChampion | None:  # noqa: ANN001
    """The champion before this run and the new version, on the judged rows after both
    training windows."""
    window = champion_window(registry, task.name, judged, customers)
    if window is None:
        return None
    check = DaysChampion(version=window.version, customers_held=window.customers_held,
                         trained_before=window.trained_before)
    rows = window.rows
    if len(rows) == 0:
        return check
    try:
        old = registry.load_model(task.name, check.version).predict_days(rows)
    except (LookupError, ValueError, KeyError, AttributeError) as exc:
        return replace(check, n=len(rows), error=str(exc))
    y = rows[LABEL].to_numpy(dtype=float)
    before, now = days_metrics(y, old[:, 1], old[:, 0], old[:, 2]), days_metrics(
        y, rows["days_p50"], rows["days_p10"], rows["days_p90"])
    return replace(check, n=len(rows), mae=before["mae"], coverage=before["coverage"],
                   new_mae=now["mae"], new_coverage=now["coverage"])


QUANTILES = QuantileKind()
"""The kind of the payment-date task."""


def with_pay_dates(invoices: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """`invoices` (rows with `invoice_id`: the late-payment model's validation predictions)
    with the payment-date model's `pay_date_p10/p50/p90` of the same invoices at issue."""
    at_issue = predictions[predictions["kind"] == "issue"]
    columns = [f"pay_date_{n}" for n in NAMES]
    return invoices.merge(at_issue[["invoice_id", *columns]], on="invoice_id", how="left")


def validation_predictions(results: list) -> pd.DataFrame | None:
    """What `o2c train --predictions-out` writes, from `train_tasks`' results: the
    late-payment model's validation invoices with their pay dates when both models trained,
    else the one that did (None: neither)."""
    runs = {r.task.name: r for r in results if hasattr(r, "predictions")}
    late = runs.get(LATE_PAYMENT_NAME)
    dates = runs.get(MODEL_NAME)
    if late is not None and dates is not None:
        return with_pay_dates(late.predictions, dates.predictions)
    if late is not None:
        return late.predictions
    return None if dates is None else dates.predictions
