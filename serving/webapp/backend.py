"""What the pages read and write: the service's current snapshot (through its `Scorer`) and
the workflow store, always through the functions the API's endpoints call (`Desk`, the
store's `actions`, `credit`, `customer_view`, `alerts`), never a second implementation."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from features.kpis import kpi_report
from ledger.loader import Ledger
from models.forecast import ForecastConfig, forecast_weeks
from serving.scoring import ApiError, LiveScorer, Scorer
from serving.webapp import charts
from serving.webapp.config import WebappConfig
from serving.workflow import actions, alerts, credit, customer_view, ownership, users
from serving.workflow.desk import Desk
from serving.workflow.errors import WorkflowError
from serving.workflow.users import Actor

MONITORING_FILE = Path("monitoring") / "latest.json"
"""Where `o2c monitor` leaves its latest summary, in the working folder."""
ACTION_KINDS: dict[str, str] = {
    "call": "Call", "email": "E-mail", "letter": "Letter", "promise": "Promise to pay",
    "dispute": "Dispute", "note": "Note",
}
"""What a collector can log from the worklist, and its label."""
FORECAST_SIMULATIONS = 300
"""Monte Carlo draws of the dashboard's cash forecast."""


@dataclass(frozen=True)
class LoggedAction:
    """One action as the worklist's form sends it, its values read (`from_form`)."""

    kind: str
    customer_id: str
    note: str | None = None
    outcome: str | None = None
    promised_date: dt.date | None = None
    amount: float | None = None
    invoice_id: str | None = None
    reason: str | None = None

    @classmethod
    def from_form(cls, form: dict[str, str]) -> LoggedAction:
        """The action of a form; WorkflowError (400) naming a field that cannot be read (the
        store checks the rest: unknown customer, a date in the past...)."""
        def text(name: str) -> str | None:
            value = (form.get(name) or "").strip()
            return value or None

        kind, customer = text("kind"), text("customer_id")
        if kind not in ACTION_KINDS:
            raise WorkflowError(f"kind must be one of {', '.join(ACTION_KINDS)}", "kind")
        if customer is None:
            raise WorkflowError("customer_id is missing", "customer_id")
        promised = amount = None
        if kind == "promise":
            try:
                promised = dt.date.fromisoformat(text("promised_date") or "")
            except ValueError:
                raise WorkflowError("promised_date must be a date, YYYY-MM-DD",
                                    "promised_date") from None
            try:
                amount = float((text("amount") or "").replace(",", ""))
            except ValueError:
                raise WorkflowError("amount must be a number", "amount") from None
            if not math.isfinite(amount):
                raise WorkflowError("amount must be a finite number", "amount")
        return cls(kind=kind, customer_id=customer, note=text("note"), outcome=text("outcome"),
                   promised_date=promised, amount=amount, invoice_id=text("invoice_id"),
                   reason=text("reason"))

    def call(self) -> Callable[[Any, Actor, actions.Book], dict[str, Any]]:
        """The store's action for it, for `Desk.act`."""
        if self.kind in ("call", "email", "letter"):
            return partial(actions.log_contact, customer_id=self.customer_id, channel=self.kind,
                           outcome=self.outcome or "", note=self.note)
        if self.kind == "promise":
            return partial(actions.log_promise, customer_id=self.customer_id,
                           promised_date=self.promised_date, amount=self.amount,
                           invoice_ids=[self.invoice_id] if self.invoice_id else [],
                           note=self.note)
        if self.kind == "dispute":
            if not self.invoice_id:
                raise WorkflowError("a dispute needs the invoice disputed", "invoice_id")
            return partial(actions.open_dispute, invoice_id=self.invoice_id,
                           reason=self.reason or "")
        return partial(actions.add_note, customer_id=self.customer_id, note=self.note or "",
                       invoice_id=self.invoice_id)

    def done(self) -> str:
        """What was logged, in a sentence."""
        if self.kind == "promise":
            return (f"Promise to pay {self.amount:,.2f} by {self.promised_date} logged for "
                    f"{self.customer_id}: held until then.")
        if self.kind == "dispute":
            return f"Dispute on {self.invoice_id} opened for {self.customer_id}: held."
        return f"{ACTION_KINDS[self.kind]} logged for {self.customer_id}."


def _refusal(exc: ApiError) -> WorkflowError:
    return WorkflowError(exc.message, exc.field, exc.status)


@dataclass
class Backend:
    """The service's state as the web app sees it."""

    live: LiveScorer
    """The service's current scorer (swapped whole by `/reload`)."""
    desk: Desk
    """The workflow store as the API's endpoints use it."""
    ledger: Callable[[], Ledger | None]
    """The ledger the customer views read (None: none configured)."""
    workdir: Path
    config: WebappConfig = field(default_factory=WebappConfig)
    secret: str = field(default="", repr=False)
    """The key that signs session cookies (`security.session_secret`)."""
    _forecast: tuple[Scorer, dict[str, Any] | None] | None = field(default=None, repr=False)
    _countries: tuple[Scorer, list[str]] | None = field(default=None, repr=False)

    @property
    def scorer(self) -> Scorer:
        """The snapshot and models in service now."""
        return self.live.current

    @property
    def store(self) -> Any:
        """The workflow store."""
        return self.desk.store

    @property
    def currency(self) -> str | None:
        """The reporting currency of the snapshot's amounts."""
        kpis = self.scorer.portfolio.kpis
        return str(kpis["reporting_currency"].iloc[0]) if len(kpis) else None

    def authenticate(self, name: str, password: str) -> Actor | None:
        """The active user if the password is theirs."""
        return users.check_password(self.store, name, password)

    def actor(self, name: str) -> Actor | None:
        """The user of a session as the store has them now (None: gone or disabled)."""
        with self.store.begin() as session:
            try:
                user = users.get_user(session, name)
            except WorkflowError:
                return None
            return Actor(user.name, user.role) if user.active else None

    # ------------------------------------------------------------------ collectors

    def worklist(self, actor: Actor, *, collector: str | None = None, country: str | None = None,
                 min_amount: float | None = None) -> list[dict[str, Any]]:
        """The worklist as `/worklist` gives it (`Desk.worklist`): the store's promises and
        disputes laid over the snapshot, a collector's own customers (others': everyone's or
        one collector's)."""
        try:
            return self.desk.worklist(self.scorer, actor, collector=collector, country=country,
                                      min_amount=min_amount)
        except ApiError as exc:
            raise _refusal(exc) from None

    def collectors(self) -> list[str]:
        """The store's collectors, whose worklists a manager may pick."""
        return ownership.collectors(self.store)

    def log(self, actor: Actor, action: LoggedAction) -> str:
        """Record an action through the store (`Desk.act`); what was done, in a sentence.
        WorkflowError naming the field when refused (nothing written)."""
        try:
            self.desk.act(self.scorer, actor, action.call())
        except ApiError as exc:
            raise _refusal(exc) from None
        return action.done()

    # ------------------------------------------------------------------ customers

    def customer(self, customer_id: str) -> dict[str, Any]:
        """The single view of a customer, as `/customer` gives it (ApiError 404 for an
        unknown one)."""
        scorer = self.scorer
        try:
            return customer_view.customer_view(
                scorer.customer(customer_id), ledger=self.ledger(),
                snapshots_dir=self.workdir / "snapshots", store=self.store)
        except WorkflowError as exc:
            raise ApiError(exc.status, exc.message, exc.field) from None

    def customer_chart(self, customer_id: str) -> bytes:
        """The PNG of the customer's open balance over time and the days late of each
        settled invoice (from the ledger part of the single view)."""
        view = self.customer(customer_id)
        moves: list[tuple[dt.date, float]] = []
        late_dates, late_days = [], []
        for invoice in view.get("invoices", []):
            moves.append((_date(invoice["issue_date"]), float(invoice["amount"] or 0)))
            if invoice.get("settled_date"):
                settled = _date(invoice["settled_date"])
                late_dates.append(settled)
                late_days.append((settled - _date(invoice["due_date"])).days)
        moves += [(_date(p["payment_date"]), -float(p["amount"] or 0))
                  for p in view.get("payments", [])]
        moves += [(_date(c["issue_date"]), -float(c["amount"] or 0))
                  for c in view.get("credit_notes", [])]
        moves.sort(key=lambda move: move[0])
        dates, balance, running = [], [], 0.0
        for day, amount in moves:
            running += amount
            dates.append(day)
            balance.append(max(running, 0.0))
        currency = (view.get("customer") or {}).get("currency")
        return charts.balance_chart(dates, balance, late_dates, late_days, currency)

    # ------------------------------------------------------------------ credit managers

    def countries(self) -> list[str]:
        """The customers' countries (read once per snapshot)."""
        scorer = self.scorer
        if self._countries is None or self._countries[0] is not scorer:
            found = scorer.portfolio.customers["country"].dropna().unique().tolist()
            self._countries = (scorer, sorted(map(str, found)))
        return self._countries[1]

    def review_queue(self, *, grade: str | None = None, country: str | None = None,
                     include_decided: bool = False) -> list[dict[str, Any]]:
        """The review queue as `/review_queue` gives it (`credit.queue_rows`)."""
        filters = credit.QueueFilters(grades=(grade,) if grade else None, country=country,
                                      include_decided=include_decided)
        return credit.queue_rows(self.store, self.scorer.portfolio, filters)

    def decide(self, actor: Actor, customer_id: str, decision: str, limit: str | None,
               reason: str | None) -> str:
        """Record a decision as `/decide_limit` does (`credit.decide`, audited); what was
        decided, in a sentence. WorkflowError naming the field when refused."""
        try:
            amount = float(limit.replace(",", "")) if limit else None
        except ValueError:
            raise WorkflowError(f"limit must be a number, got {limit!r}", "limit") from None
        made = credit.decide(self.store, self.scorer.portfolio, customer_id, user=actor.name,
                             role=actor.role, decision=decision, limit=amount, reason=reason)
        verb = "accepted" if decision == "accept" else "overridden"
        return (f"{customer_id}: recommendation {verb}, limit {made.limit:,.0f} "
                f"{made.currency or ''}".rstrip())

    def limit_detail(self, customer_id: str) -> dict[str, Any] | None:
        """A customer's recommendation, decisions and audit trail (None: no limit row)."""
        try:
            recommendation = credit.recommendation_for(self.scorer.portfolio, customer_id)
        except WorkflowError:
            return None
        with self.store.begin() as session:
            stored = customer_view.store_view(session, customer_id)
        return {"customer_id": customer_id, "limit": dict(recommendation.row),
                "model_version": recommendation.model_version, "as_of": self.scorer.as_of,
                "decisions": stored["decisions"], "trail": stored["audit"]}

    # ------------------------------------------------------------------ dashboard

    def kpis(self) -> dict[str, Any]:
        """Receivables KPIs as of the snapshot's date (as `GET /kpis`)."""
        portfolio = self.scorer.portfolio
        return kpi_report(portfolio.kpis, portfolio.as_of)

    def forecast(self) -> dict[str, Any] | None:
        """Expected collections per week of the snapshot's open invoices, with their P10-P90
        (`models.forecast.forecast_weeks`, as `o2c forecast`, over the payment-date quantiles
        the snapshot holds: rounded to days); None when the snapshot has none. Computed once
        per snapshot."""
        scorer = self.scorer
        if self._forecast is not None and self._forecast[0] is scorer:
            return self._forecast[1]
        scores = scorer.portfolio.invoice_scores
        quantiles = [f"pay_date_{q}" for q in ("p10", "p50", "p90")]
        result = None
        if len(scores) and set(quantiles) <= set(scores.columns):
            due = pd.to_datetime(scores["due_date"])
            invoices = scores.assign(amount=scores["open_amount_base"].fillna(0.0), **{
                f"days_{q[-3:]}": (pd.to_datetime(scores[q]) - due).dt.days.astype(float)
                for q in quantiles})
            weeks = forecast_weeks(invoices, scorer.as_of,
                                   ForecastConfig(simulations=FORECAST_SIMULATIONS))
            result = {"weeks": weeks["week_start"].dt.date.tolist(), "currency": self.currency,
                      "series": {"expected": weeks["expected"].tolist(),
                                 "P10": weeks["low"].tolist(), "P90": weeks["high"].tolist()},
                      "total": float(weeks["expected"].sum())}
        self._forecast = (scorer, result)
        return result

    def alerts(self, actor: Actor) -> list[dict[str, Any]]:
        """The user's alerts as `/alerts` gives them (an admin: everyone's)."""
        with self.store.begin() as session:
            found = alerts.alerts_for(session, user=actor.name, admin=actor.role == "admin")
            return [a.as_dict() for a in found]

    def monitoring(self) -> dict[str, Any] | None:
        """The latest monitoring summary, or None when `o2c monitor` has not run (or its
        file is unreadable)."""
        try:
            return json.loads((self.workdir / MONITORING_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def monitoring_report(self, name: str) -> Path | None:
        """The path of a report the latest monitoring summary names (`data_drift`,
        `model_quality`), or None: only files the summary lists are ever served."""
        summary = self.monitoring() or {}
        file = (summary.get("reports") or {}).get(name)
        if not file or not summary.get("out"):
            return None
        path = Path(summary["out"]) / Path(file).name
        return path if path.is_file() else None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
