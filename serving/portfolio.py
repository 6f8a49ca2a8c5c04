"""The portfolio snapshot: invoice scores, worklist and credit limits as of one date.

`o2c score` writes one folder per run (`invoice_scores.parquet`, `worklist.parquet`,
`limits.parquet`, `customers.parquet` with every customer's features and history as of the
date (`serving.history.customer_history`), `kpis.parquet` with every customer's parts of the
receivables KPIs (`features.kpis.kpi_components`), `manifest.json` with the as-of date and
model versions), atomically; the service reads the latest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features import build_customer_features, build_snapshot
from features.kpis import kpi_components
from ledger.atomic import atomic_directory
from ledger.digest import content_sha256
from ledger.loader import Ledger
from ledger.summary import reporting_currency
from models.limits import (
    RULE_TEXT,
    LimitsConfig,
    SeriousLabel,
    recommend_limits,
    rule_probability,
)
from models.payment_dates import pay_dates
from models.reasons import reason_codes
from models.worklist import HOLD_FLAGS, WorklistConfig, build_worklist
from serving.champions import Champion
from serving.history import customer_history, fx_rates
from training.delinquency import SERIOUS_MODEL_NAME
from training.payment_dates import MODEL_NAME as PAYMENT_DATE_MODEL_NAME

FRAMES = ("invoice_scores", "worklist", "limits", "customers", "kpis")
RISK_BANDS = ((0.2, "low"), (0.5, "medium"), (1.01, "high"))
"""Upper bounds of p_late for each risk band."""
INPUT_CHANGES = {
    "ledger_sha256": "made from another ledger, or the ledger changed since",
    "worklist_settings_sha256": "made with other [worklist] settings",
    "limits_settings_sha256": "made with other [limits] settings",
}
"""What a snapshot input that differs means (keys of `snapshot_inputs`)."""

NO_MODEL = "none"
"""The model version a snapshot records for a model that had no champion (grades by rule)."""

logger = logging.getLogger(__name__)


@dataclass
class Portfolio:
    """Everything `o2c score` decides as of one date."""

    as_of: dt.date
    invoice_scores: pd.DataFrame
    worklist: pd.DataFrame
    limits: pd.DataFrame
    customers: pd.DataFrame
    """Every customer's features and history as of the date (`customer_history`)."""
    models: dict[str, str] = field(default_factory=dict)
    """Model name -> champion version used."""
    rates: dict[str, float] = field(default_factory=dict)
    """Reporting-currency rate of each currency of the ledger (for customers without
    history in the snapshot)."""
    inputs: dict[str, str] = field(default_factory=dict)
    """What it was computed from besides the models (`snapshot_inputs`)."""
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Every customer's parts of the receivables KPIs as of the date (`kpi_components`)."""

    @property
    def manifest(self) -> dict:
        """What the snapshot is: its date, the models and inputs behind it and its sizes."""
        return {"as_of": self.as_of.isoformat(), "models": self.models, "rates": self.rates,
                "inputs": self.inputs,
                "rows": {name: len(getattr(self, name)) for name in FRAMES},
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def snapshot_inputs(
    ledger: Ledger, worklist_config: WorklistConfig, limits_config: LimitsConfig
) -> dict[str, str]:
    """SHA-256 of the ledger's content (`ledger.digest.content_sha256`) and of each settings
    section a snapshot depends on."""
    def digest(config: WorklistConfig | LimitsConfig) -> str:
        text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    return {"ledger_sha256": content_sha256(ledger),
            "worklist_settings_sha256": digest(worklist_config),
            "limits_settings_sha256": digest(limits_config)}


def snapshot_differences(
    folder: Path, inputs: dict[str, str], models: dict[str, str]
) -> list[str]:
    """Why the snapshot in `folder` differs from what scoring with these `inputs`
    (`snapshot_inputs`) and champion `models` (name -> version) would give now; empty if not."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"its manifest.json is unreadable ({type(exc).__name__}: {exc})"]
    stored = manifest.get("inputs")
    if stored:
        reasons = [text for key, text in INPUT_CHANGES.items() if stored.get(key) != inputs[key]]
    else:
        reasons = ["written without a record of its ledger and settings (by an older version)"]
    used = manifest.get("models", {})
    changed = [f"{name} v{used.get(name, '?')} (now v{version})"
               for name, version in sorted(models.items()) if used.get(name) != version]
    if changed:
        reasons.append("made with other champions: " + ", ".join(changed))
    return reasons


def risk_band(p: np.ndarray) -> np.ndarray:
    """'low', 'medium' or 'high' for each probability of paying late."""
    bounds = np.array([b for b, _ in RISK_BANDS])
    labels = np.array([label for _, label in RISK_BANDS])
    return labels[np.searchsorted(bounds, np.asarray(p), side="right").clip(0, len(labels) - 1)]


def _texts(reasons: list[dict]) -> list[list[str]]:
    return [[r["text"] for r in row["raises"]] for row in reasons]


def score_portfolio(
    ledger: Ledger, as_of: dt.date, *, late_payment: Champion, collections: Champion,
    serious: Champion | None, worklist_config: WorklistConfig, limits_config: LimitsConfig,
    previous_grades: pd.Series | None = None, payment_dates: Champion | None = None,
) -> Portfolio:
    """Score every invoice open at `as_of`, rank the worklist and recommend credit limits.

    `serious` None (no customer model could be trained) grades by rule, and says so in every
    limit's reasons and as its version (`NO_MODEL`). `previous_grades` (grade by customer_id
    at the last review) lets the limits flag a grade that fell two steps or more.
    `payment_dates` (the payment-date champion) adds each open invoice's predicted
    `pay_date_p10`, `pay_date_p50` and `pay_date_p90`; None leaves them out."""
    snapshot = build_snapshot(ledger, as_of)
    scored = snapshot.assign(
        p_late=late_payment.model.predict_proba(snapshot),
        p_unpaid_30d=collections.model.predict_proba(snapshot),
    )
    unpaid_reasons = reason_codes(collections.model, scored)
    invoice_scores = scored[["invoice_id", "customer_id", "as_of", "issue_date", "due_date",
                             "currency", "open_amount", "open_amount_base", "days_past_due",
                             "p_late", "p_unpaid_30d", *HOLD_FLAGS]].assign(
        amount_at_risk=scored["open_amount_base"] * scored["p_unpaid_30d"],
        risk_band=risk_band(scored["p_late"]),
        reasons=_texts(unpaid_reasons),
    )
    if payment_dates is not None:
        invoice_scores = invoice_scores.join(
            pay_dates(snapshot["due_date"], payment_dates.model.predict_days(snapshot)))
    currency = worklist_config.model_copy(update={"reporting_currency":
                                                  reporting_currency(ledger)})
    worklist = build_worklist(scored, config=currency, reasons=unpaid_reasons)
    customers = customer_history(ledger, as_of, build_customer_features(ledger, as_of))
    limits = credit_limits(customers, serious, limits_config, previous_grades)
    models = {c.name: c.version for c in (late_payment, collections, serious, payment_dates)
              if c is not None}
    missing = {name: NO_MODEL for name, champion in ((SERIOUS_MODEL_NAME, serious),
                                                     (PAYMENT_DATE_MODEL_NAME, payment_dates))
               if champion is None}
    return Portfolio(as_of, invoice_scores, worklist, limits, customers, {**models, **missing},
                     fx_rates(ledger), snapshot_inputs(ledger, worklist_config, limits_config),
                     kpi_components(ledger, as_of))


def limit_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """The customers who owe or buy: an open balance, or an invoice in the last 365 days."""
    owes = customers["open_balance_base"].fillna(0.0) > 0
    return customers[owes | (customers["invoice_count_365d"] > 0)].reset_index(drop=True)


def credit_limits(
    customers: pd.DataFrame, serious: Champion | None, config: LimitsConfig,
    previous_grades: pd.Series | None,
) -> pd.DataFrame:
    """`recommend_limits` for `limit_customers`, with the customer model's probabilities of
    the label it learnt, or rule-based grades (`models.limits.rule_probability`) without one."""
    active = limit_customers(customers)
    if serious is None:
        logger.warning("no %s champion: credit grades by rule (%s)", SERIOUS_MODEL_NAME,
                       RULE_TEXT)
        return recommend_limits(active, rule_probability(active, config), config=config,
                                previous_grades=previous_grades, probability_of=RULE_TEXT)
    metadata = serious.model.metadata
    base_rate = metadata.get("label_base_rate")
    return recommend_limits(active, serious.model.predict_proba(active), config=config,
                            reasons=reason_codes(serious.model, active),
                            previous_grades=previous_grades, label=SeriousLabel.of(metadata),
                            base_rate=None if base_rate is None else float(base_rate))


def write_portfolio(portfolio: Portfolio, root: str | Path) -> Path:
    """Write the snapshot to `root/<as_of>/`, replacing an older one of that date atomically
    (a crash leaves the old or the new one; a concurrent writer waits: `atomic_directory`)."""
    target = Path(root) / portfolio.as_of.isoformat()
    with atomic_directory(target) as staging:
        for name in FRAMES:
            getattr(portfolio, name).to_parquet(staging / f"{name}.parquet", index=False)
        manifest = {**portfolio.manifest, "write_id": uuid.uuid4().hex}  # tells writes apart
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target


def latest_portfolio_dir(root: str | Path, *, before: dt.date | None = None) -> Path | None:
    """The snapshot folder under `root` with the latest as-of date in its manifest (earlier
    than `before` if given), whatever the folders are named; a folder named as its date wins
    a tie. A folder whose manifest has no readable date is skipped, with a warning."""
    root = Path(root)
    if not root.is_dir():
        return None
    dated = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith(".") \
                or not (folder / "manifest.json").exists():
            continue
        try:
            as_of = manifest_date(folder)
        except ValueError as exc:
            logger.warning("skipping snapshot folder %s: %s", folder, exc)
            continue
        if before is None or as_of < before:
            dated.append((as_of, folder.name == as_of.isoformat(), folder.name, folder))
    return max(dated)[-1] if dated else None


def manifest_date(folder: Path) -> dt.date:
    """The as-of date in a snapshot's `manifest.json`; ValueError saying what is wrong."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        return dt.date.fromisoformat(manifest["as_of"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} has no readable as_of date (YYYY-MM-DD): "
                         f"{type(exc).__name__}: {exc}") from None


def previous_grades(root: str | Path, as_of: dt.date) -> pd.Series | None:
    """Grade by customer_id in the latest snapshot before `as_of` (the last review), if any."""
    folder = latest_portfolio_dir(root, before=as_of)
    if folder is None or not (folder / "limits.parquet").exists():
        return None
    limits = pd.read_parquet(folder / "limits.parquet", columns=["customer_id", "grade"])
    return limits.set_index("customer_id")["grade"]


def require_parts(folder: Path) -> None:
    """FileNotFoundError naming what a snapshot folder lacks of `manifest.json` and FRAMES."""
    missing = [name for name in ("manifest.json", *(f"{f}.parquet" for f in FRAMES))
               if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(f"snapshot {folder} lacks {', '.join(missing)} (written by an "
                                "older version?): run `o2c score` again")


def read_portfolio(folder: str | Path) -> Portfolio:
    """Read a snapshot written by `write_portfolio`; a clear error when a part is missing.
    Read again when it was replaced while being read (its manifest changed meanwhile)."""
    folder = Path(folder)
    manifest_file = folder / "manifest.json"
    for _ in range(3):
        require_parts(folder)
        text = manifest_file.read_text(encoding="utf-8")
        frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in FRAMES}
        if manifest_file.read_text(encoding="utf-8") == text:
            break
    manifest = json.loads(text)
    return Portfolio(dt.date.fromisoformat(manifest["as_of"]), models=manifest["models"],
                     rates=manifest.get("rates", {}), inputs=manifest.get("inputs", {}),
                     **frames)
