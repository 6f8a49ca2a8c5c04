"""Build the API's `Scorer` from the MLflow registry and the latest portfolio snapshot, after
checking that the snapshot holds everything the endpoints read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from features.kpis import AMOUNTS, COUNTS
from serving.champions import describe_champion, load_champion
from serving.config import DATE_MAX, DATE_MIN, ApiConfig
from serving.history import check_history_columns, customer_specs, history_inputs
from serving.portfolio import latest_portfolio_dir, read_portfolio, require_parts
from serving.scoring import Scorer
from training.collections import COLLECTIONS_MODEL_NAME
from training.delinquency import SERIOUS_MODEL_NAME
from training.payment_dates import MODEL_NAME as PAYMENT_DATE_MODEL_NAME
from training.pipeline import MODEL_NAME
from training.registry import Registry

MODEL_NAMES = (MODEL_NAME, COLLECTIONS_MODEL_NAME, SERIOUS_MODEL_NAME)
"""The champions the service answers with (and tells of in /model_info)."""
REQUIRED_MODELS = (MODEL_NAME, COLLECTIONS_MODEL_NAME)
"""The champions the service cannot start without: without a serious-delinquency champion
the limits grade by rule (`models.limits.rule_probability`) and say so."""


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _is_strings(kind: pa.DataType) -> bool:
    return ((pa.types.is_list(kind) or pa.types.is_large_list(kind))
            and _is_string(kind.value_type))


KINDS: dict[str, Callable[[pa.DataType], bool]] = {
    "text": _is_string, "number": _is_number, "integer": pa.types.is_integer,
    "boolean": pa.types.is_boolean, "list of text": _is_strings,
}
"""What each kind of column the endpoints read may be stored as."""

_INVOICE_SCORES = {"invoice_id": "text", "customer_id": "text", "currency": "text",
                   "p_late": "number", "open_amount_base": "number",
                   "amount_at_risk": "number", "risk_band": "text"}
_WORKLIST = {"rank": "integer", "customer_id": "text", "priority": "number",
             "amount_at_risk": "number", "held": "boolean", "action": "text",
             "reasons": "list of text"}
_LIMITS = {"customer_id": "text", "recommended_limit": "number", "grade": "text",
           "probability": "number", "reasons": "list of text"}
_CUSTOMERS = {"customer_id": "text", "country": "text", "customer_currency": "text",
              "rate": "number", "credit_limit_c": "number"}
_KPIS = {"customer_id": "text", "segment": "text", "country": "text",
         "reporting_currency": "text", "dispute_age_days_max": "number",
         **dict.fromkeys((*AMOUNTS, *COUNTS), "number")}
_FEATURE_KINDS = {"float64": "number", "string": "text", "bool": "boolean"}

NOT_NULL = {"invoice_scores": ("invoice_id", "customer_id", "p_late"),
            "worklist": ("rank", "customer_id"), "limits": ("customer_id",),
            "customers": ("customer_id",)}
"""Columns without which a row cannot be answered."""


class Manifest(BaseModel):
    """What the service reads of a snapshot's `manifest.json`."""

    as_of: dt.date
    models: dict[str, str]
    rates: dict[str, float] = {}


def check_manifest(folder: Path) -> Manifest:
    """The snapshot's manifest; ValueError naming each bad field, or a date outside
    [DATE_MIN, DATE_MAX] (every score would be refused or fail)."""
    path = folder / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                           for e in exc.errors(include_url=False)[:5])
        raise ValueError(f"{path} is not a snapshot manifest ({fields}): run `o2c score` "
                         "again") from None
    if not DATE_MIN <= manifest.as_of <= DATE_MAX:
        raise ValueError(f"snapshot {folder} is dated {manifest.as_of}, outside the dates the "
                         f"API scores ({DATE_MIN} to {DATE_MAX}): run `o2c score` with another "
                         "--as-of")
    return manifest


def snapshot_columns() -> dict[str, dict[str, str]]:
    """Column -> kind of every snapshot file the endpoints read: what `/score_invoices`,
    `/worklist`, `/credit_limits`, `/customer` and `/kpis` take from each row (the customer history
    also has every customer feature of the catalog)."""
    customers = {**_CUSTOMERS, **dict.fromkeys(history_inputs(), "number"),
                 **{s.name: _FEATURE_KINDS[s.column_dtype] for s in customer_specs()}}
    return {"invoice_scores": _INVOICE_SCORES, "worklist": _WORKLIST, "limits": _LIMITS,
            "customers": customers, "kpis": _KPIS}


def check_snapshot(folder: Path) -> None:
    """Fail early and clearly on a snapshot the service cannot serve (FileNotFoundError or
    ValueError naming the file, the column and what was expected), reading only its manifest
    and file schemas: every part there, a manifest dated in [DATE_MIN, DATE_MAX], every
    column the endpoints read present with a usable type."""
    require_parts(folder)
    check_manifest(folder)
    problems = []
    for name, columns in snapshot_columns().items():
        schema = pq.read_schema(folder / f"{name}.parquet")
        if name == "customers":
            check_history_columns(schema.names)
        for column, kind in columns.items():
            if column not in schema.names:
                problems.append(f"{name}.parquet lacks column {column} ({kind})")
            elif not KINDS[kind](schema.field(column).type):
                problems.append(f"{name}.parquet column {column} is "
                                f"{schema.field(column).type}, expected {kind}")
    if problems:
        raise ValueError(f"snapshot {folder} cannot be served: {'; '.join(problems[:5])}"
                         f"{' ...' if len(problems) > 5 else ''} (written by another "
                         "version?): run `o2c score` again")


def check_filled(folder: Path, frames: dict[str, pd.DataFrame]) -> None:
    """ValueError naming the first NOT_NULL column of a loaded snapshot that has a null."""
    for name, columns in NOT_NULL.items():
        for column in columns:
            empty = int(frames[name][column].isna().sum())
            if empty:
                raise ValueError(f"snapshot {folder}: {name}.parquet column {column} is "
                                 f"empty in {empty} row(s): run `o2c score` again")


def load_scorer(*, tracking: Registry, snapshots_dir: Path, api: ApiConfig) -> Scorer:
    """The late-payment champion, the other champions' descriptions and the latest snapshot
    (by the date in its manifest), checked by `check_snapshot` and `check_filled`.

    Raises LookupError naming what is missing (a champion, a snapshot) and what to run, and
    ValueError or FileNotFoundError for a snapshot the service cannot serve.
    """
    folder = latest_portfolio_dir(snapshots_dir)
    if folder is None:
        raise LookupError(f"no portfolio snapshot in {snapshots_dir}: run `o2c score` first")
    check_snapshot(folder)
    portfolio = read_portfolio(folder)
    check_filled(folder, {name: getattr(portfolio, name) for name in NOT_NULL})
    models = [describe_champion(name, tracking) for name in MODEL_NAMES  # without a customer
              if name != SERIOUS_MODEL_NAME or tracking.champion(name)]  # model: rule grades
    late_payment = load_champion(MODEL_NAME, tracking)
    dates = (load_champion(PAYMENT_DATE_MODEL_NAME, tracking).model
             if tracking.champion(PAYMENT_DATE_MODEL_NAME) is not None else None)
    return Scorer(late_payment=late_payment.model, portfolio=portfolio, models=models,
                  collectors=api.collectors, max_batch=api.max_batch, max_ids=api.max_ids,
                  payment_dates=dates)
