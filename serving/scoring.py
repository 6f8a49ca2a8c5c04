"""The scoring logic the API serves, as a plain class: models and snapshot handed in.

`Scorer` answers every endpoint from one late-payment model and one portfolio snapshot; it
never reads the registry or the disk itself, so it is tested with a small fake model.
`LiveScorer` holds the current `Scorer` and swaps it for a new one in one assignment, so
requests in flight finish on the state they started with.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from models.payment_dates import PaymentDateModel, pay_dates
from models.reasons import reason_codes
from models.risk_model import RiskModel
from models.worklist import assign_collectors
from serving.config import MAX_BATCH, MAX_IDS
from serving.history import PostedFeatures
from serving.portfolio import Portfolio, risk_band

INVOICE_FIELDS = ("invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency")


class ApiError(Exception):
    """A request the scorer cannot answer: HTTP status, the field at fault and why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        """The JSON error body: `{"error", "field"}`."""
        return {"error": self.message, "field": self.field}


_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="score-beside")
"""Runs a request's payment dates while its risk scores and reasons are computed (LightGBM
releases the GIL: the server's second core does them)."""


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready rows (dates as ISO strings, arrays as lists, NaN as null)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


class Scorer:
    """Scores, worklist, limits and customer profiles from one model and one snapshot."""

    def __init__(
        self, *, late_payment: RiskModel, portfolio: Portfolio,
        models: Sequence[Mapping[str, Any]] = (), collectors: Mapping[str, int] | None = None,
        max_batch: int = MAX_BATCH, max_ids: int = MAX_IDS, reason_count: int = 3,
        payment_dates: PaymentDateModel | None = None,
    ) -> None:
        """`models`: what `model_info` tells of each champion (name, version, metrics...);
        `collectors`: name -> daily capacity, for the worklist's `collector` filter;
        `max_batch`, `max_ids`: most invoices to score, most customer ids to look up;
        `payment_dates`: the payment-date champion, whose dates each score then carries."""
        if max_batch < 1 or max_ids < 1:
            raise ValueError(f"max_batch and max_ids must be >= 1, got {max_batch!r}, "
                             f"{max_ids!r}")
        self.model = late_payment
        if isinstance(late_payment, RiskModel):
            _ = late_payment.shap_tables  # built now, not on the first request with reasons
        self.payment_dates = payment_dates
        self.portfolio = portfolio
        self.as_of = portfolio.as_of
        self.max_batch = max_batch
        self.max_ids = max_ids
        self.reason_count = reason_count
        self.models = [dict(m) for m in models]
        self.collectors = dict(collectors or {})
        self.posted = PostedFeatures(portfolio.customers, portfolio.rates)
        self._worklist = self._worklist_rows(portfolio)
        self._worklist_of = {row["customer_id"]: row for row in self._worklist}
        self._limits = {row["customer_id"]: row for row in records(portfolio.limits)}
        invoices = records(portfolio.invoice_scores)
        self._open: dict[str, list[dict]] = {}
        for row in invoices:
            self._open.setdefault(row["customer_id"], []).append(row)
        self._customers = portfolio.customers.set_index("customer_id", drop=False)

    def _worklist_rows(self, portfolio: Portfolio) -> list[dict[str, Any]]:
        """Worklist rows with the customer's country and, with collectors, the assignment."""
        rows = portfolio.worklist
        if self.collectors:
            rows = assign_collectors(rows, self.collectors)
        else:
            rows = rows.assign(collector=None)
        country = portfolio.customers.set_index("customer_id")["country"]
        rows = rows.assign(country=rows["customer_id"].map(country))
        return records(rows)

    # ------------------------------------------------------------------ invoices

    def score_invoices(self, invoices: Sequence[Mapping[str, Any]],
                       as_of: dt.date | None = None, *,
                       reasons: bool = True) -> list[dict[str, Any]]:
        """`p_late`, risk band and top reasons of each posted invoice, in their order.

        Each invoice is scored as of `as_of` (default: the snapshot's date), or its issue
        date when later; the customer's history is the snapshot's. A customer the snapshot
        does not know gets a cold-start score from the invoice alone (`cold_start: true`).
        Without `reasons` the TreeSHAP reason codes are skipped (`reasons: []`).
        """
        return self.score_rows(self.prepare(invoices, as_of), reasons=reasons)

    def prepare(self, invoices: Sequence[Mapping[str, Any]],
                as_of: dt.date | None = None) -> list[dict[str, Any]]:
        """Check one request's invoices (ApiError naming the field) and give each the date
        it is scored as of: `as_of` (default the snapshot's, never earlier), or its issue date
        if later."""
        if not invoices:
            raise ApiError(400, "give at least one invoice", "invoices")
        if len(invoices) > self.max_batch:
            raise ApiError(413, f"{len(invoices)} invoices in one request; the most is "
                                f"{self.max_batch}", "invoices")
        if as_of is not None and as_of < self.as_of:
            raise ApiError(400, f"as_of {as_of} is before the snapshot's date {self.as_of}: "
                                "the customer history would hold later facts", "as_of")
        self._check_invoices(invoices)
        day = as_of or self.as_of
        return [{**{k: inv[k] for k in INVOICE_FIELDS}, "paperless": inv.get("paperless"),
                 "as_of": max(day, inv["issue_date"])}
                for inv in invoices]

    def score_rows(self, rows: Sequence[Mapping[str, Any]], *,
                   reasons: bool = True) -> list[dict[str, Any]]:
        """Scores of rows from `prepare` (of one request or of several together)."""
        features = self.posted.build(pd.DataFrame(list(rows)))
        dates = _BESIDE.submit(self._pay_dates, features)  # on the other core meanwhile
        codes = None
        if reasons and isinstance(self.model, RiskModel):  # one design matrix for both
            p_late, contributions = self.model.predict_with_contributions(features)
            codes = reason_codes(self.model, features, top=self.reason_count, lowers=False,
                                 contributions=contributions)
        else:
            p_late = self.model.predict_proba(features)
            if reasons:
                codes = reason_codes(self.model, features, top=self.reason_count,
                                     lowers=False)
        bands = risk_band(p_late)
        history = self.as_of.isoformat()
        cold = features["cold_start"].to_numpy()
        dates = dates.result()
        return [
            {"invoice_id": row["invoice_id"], "customer_id": row["customer_id"],
             "as_of": row["as_of"].isoformat(),
             "p_late": round(float(p_late[i]), 6), "risk_band": str(bands[i]),
             "cold_start": bool(cold[i]), "history_as_of": None if cold[i] else history,
             "reasons": [{"feature": r["feature"], "text": r["text"],
                          "contribution": r["contribution"]}
                         for r in (codes[i]["raises"] if codes else [])], **dates[i]}
            for i, row in enumerate(rows)
        ]

    def _pay_dates(self, features: pd.DataFrame) -> list[dict[str, str]]:
        """Each row's predicted payment dates (ISO), none without a payment-date model."""
        if self.payment_dates is None:
            return [{} for _ in range(len(features))]
        dates = pay_dates(features["due_date"], self.payment_dates.predict_days(features))
        iso = {name: np.datetime_as_string(column.to_numpy().astype("datetime64[D]"),
                                           unit="D").tolist()
               for name, column in dates.items()}
        return [dict(zip(iso, row, strict=True)) for row in zip(*iso.values(), strict=True)]

    def _check_invoices(self, invoices: Sequence[Mapping[str, Any]]) -> None:
        """Currency of each invoice: the customer's own, or one the ledger has a rate for."""
        known = self.posted.currency
        rates = self.posted.rates
        for i, invoice in enumerate(invoices):
            customer, currency = invoice["customer_id"], invoice["currency"]
            own = known.get(customer)
            if own is not None and currency != own:
                raise ApiError(400, f"invoice currency {currency} differs from customer "
                                    f"{customer}'s currency {own}",
                               f"invoices[{i}].currency")
            if own is None and rates and currency not in rates:
                raise ApiError(400, f"unknown currency {currency} (the ledger has "
                                    f"{', '.join(sorted(rates))})", f"invoices[{i}].currency")

    # ------------------------------------------------------------------ decisions

    def worklist(self, *, top_k: int | None = None, collector: str | None = None,
                 country: str | None = None, min_amount: float | None = None,
                 include_held: bool = True, rows: Sequence[Mapping[str, Any]] | None = None,
                 collectors: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Worklist rows in rank order, filtered: by collector, by customer country, by amount
        at risk of at least `min_amount`, without held customers unless `include_held`; then
        the first `top_k`. `rows` and `collectors` (default the snapshot's rows and the
        configured collectors) filter the workflow store's worklist the same way."""
        names = self.collectors if collectors is None else collectors
        if collector is not None and collector not in names:
            known = ", ".join(sorted(names)) or "none configured"
            raise ApiError(400, f"unknown collector {collector!r} (collectors: {known})",
                           "collector")
        listed = []
        for row in self._worklist if rows is None else rows:
            if collector is not None and row["collector"] != collector:
                continue
            if country is not None and row["country"] != country:
                continue
            if min_amount is not None and not (row["amount_at_risk"] or 0) >= min_amount:
                continue
            if not include_held and row["held"]:
                continue
            listed.append(row)
            if top_k is not None and len(listed) >= top_k:
                break
        return listed

    def credit_limits(self, customer_ids: Sequence[str] | None = None) -> dict[str, list]:
        """`limits`: the credit-limit rows of these customers (all when none are named), in
        their order, each customer once; `not_found`: those named without a limit. 413 for
        more than `max_ids` ids, 404 when none of them has a limit."""
        if not customer_ids:
            return {"limits": list(self._limits.values()), "not_found": []}
        if len(customer_ids) > self.max_ids:
            raise ApiError(413, f"{len(customer_ids)} customer ids in one request; the most "
                                f"is {self.max_ids}", "customer_ids")
        wanted = list(dict.fromkeys(customer_ids))
        found = [self._limits[c] for c in wanted if c in self._limits]
        missing = [c for c in wanted if c not in self._limits]
        if not found:
            raise ApiError(404, "no credit limit for customer(s) "
                                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
                                f" in the snapshot of {self.as_of}", "customer_ids")
        return {"limits": found, "not_found": missing}

    def customer(self, customer_id: str) -> dict[str, Any]:
        """A customer's risk profile: features, scores, open invoices, limit and reasons."""
        if customer_id not in self._customers.index:
            raise ApiError(404, f"unknown customer {customer_id!r} in the snapshot of "
                                f"{self.as_of}", "customer_id")
        row = self._customers.loc[[customer_id], self.posted.columns]
        features = records(row)[0]
        open_invoices = self._open.get(customer_id, [])
        limit = self._limits.get(customer_id)
        work = self._worklist_of.get(customer_id)
        p_late = [i["p_late"] for i in open_invoices]
        amounts = [i["open_amount_base"] or 0.0 for i in open_invoices]
        scores = {
            "open_invoices": len(open_invoices),
            "open_amount_base": float(sum(amounts)),
            "amount_at_risk": float(sum(i["amount_at_risk"] or 0.0 for i in open_invoices)),
            "p_late_weighted": (float(np.average(p_late, weights=amounts))
                                if p_late and sum(amounts) > 0 else None),
            "probability_serious_delinquency": limit["probability"] if limit else None,
            "grade": limit["grade"] if limit else None,
            "worklist_rank": work["rank"] if work else None,
            "action": work["action"] if work else None,
        }
        return {
            "customer_id": customer_id, "as_of": self.as_of.isoformat(),
            "features": features, "scores": scores, "open_invoices": open_invoices,
            "limit": limit, "worklist": work,
            "reasons": {"worklist": work["reasons"] if work else [],
                        "limit": limit["reasons"] if limit else []},
        }

    def model_info(self) -> dict[str, Any]:
        """The champions behind the answers and the snapshot's date."""
        return {"models": self.models,
                "snapshot": {"as_of": self.as_of.isoformat(),
                             "models": dict(self.portfolio.models),
                             "rows": {"open_invoices": len(self.portfolio.invoice_scores),
                                      "worklist": len(self._worklist),
                                      "limits": len(self._limits),
                                      "customers": len(self._customers)}}}


class LiveScorer:
    """The current `Scorer`, replaced whole by `reload`: build the new one, then swap."""

    def __init__(self, scorer: Scorer) -> None:
        self.current = scorer
        self._reloading = threading.Lock()

    def reload(self, build: Callable[[], Scorer]) -> Scorer:
        """Build a new scorer and make it current; on failure the old one stays.

        Requests read `current` once and keep that scorer to the end, so a reload never
        fails them; reloads run one at a time.
        """
        with self._reloading:
            fresh = build()
            self.current = fresh
        return fresh

