"""The worklist as the store changes it, at once and without rescoring.

The snapshot's worklist was ranked from the ledger as of its date. The store's open disputes
and promises to pay are laid over it: the open invoices of each customer they touch get the
flags the ledger would give them (`has_open_dispute`, `has_active_promise`,
`has_broken_promise`, as `features.catalog` defines them), and those customers' rows are built
again by `models.worklist.build_worklist` (its hold rules, priority and actions) and put back
in rank order. A promise not yet due holds the customer (the promise is the first reason); a
promise whose date passed while its invoices are still open in the snapshot is broken and
brings them back up. Once the snapshot is dated after the promised date, the snapshot judges
the promise from payments (the actions reach the ledger through `o2c actions export`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models.worklist import HOLD_FLAGS, WorklistConfig, build_worklist, rank_key
from serving.portfolio import Portfolio
from serving.scoring import records
from serving.workflow.db import Store
from serving.workflow.tables import Dispute, Promise, User

LOOKBACK_DAYS = 365
"""Promises whose promised date is older than this before the snapshot are left to it."""


@dataclass(frozen=True)
class StorePromise:
    """A promise to pay as the overlay reads it."""

    id: int
    customer_id: str
    promised_date: dt.date
    amount: float
    invoice_ids: tuple[str, ...]
    user: str
    created_at: dt.datetime

    def text(self, broken: bool) -> str:
        """The promise in a worklist reason."""
        what = (f"promise to pay {self.amount:,.2f} by {self.promised_date}"
                f"{' on ' + ', '.join(self.invoice_ids) if self.invoice_ids else ''}")
        logged = f"logged by {self.user} on {self.created_at.date()}"
        return f"{what} broken ({logged})" if broken else f"{what} ({logged})"


@dataclass(frozen=True)
class OpenActions:
    """The store's promises (recent ones) and the invoices in open dispute there."""

    promises: tuple[StorePromise, ...]
    disputed: frozenset[str]

    @property
    def customers(self) -> set[str]:
        """Customers some promise names (disputes are found by invoice)."""
        return {p.customer_id for p in self.promises}


def open_actions(store: Store, as_of: dt.date) -> OpenActions:
    """The promises with a promised date at most LOOKBACK_DAYS before `as_of` and the
    invoices in open dispute."""
    since = as_of - dt.timedelta(days=LOOKBACK_DAYS)
    with store.begin() as session:
        promises = session.execute(
            select(Promise, User.name).join(User, Promise.created_by == User.id)
            .where(Promise.promised_date >= since).options(selectinload(Promise.invoices))
            .order_by(Promise.id)).all()
        disputed = session.scalars(select(Dispute.invoice_id)
                                   .where(Dispute.resolved_at.is_(None))).all()
    return OpenActions(
        tuple(StorePromise(p.id, p.customer_id, p.promised_date, p.amount,
                           tuple(p.invoice_ids), name, p.created_at) for p, name in promises),
        frozenset(disputed))


def overlay_worklist(rows: Sequence[Mapping[str, Any]], portfolio: Portfolio,
                     actions: OpenActions, config: WorklistConfig,
                     today: dt.date) -> list[dict[str, Any]]:
    """The worklist `rows` (the snapshot's, with `country` and `collector`) with the
    customers the store's actions touch built again, in rank order, ranks renumbered."""
    scores = portfolio.invoice_scores
    touched = actions.customers | set(
        scores.loc[scores["invoice_id"].isin(actions.disputed), "customer_id"])
    if not touched:
        return list(rows)
    invoices = scores[scores["customer_id"].isin(touched)]
    rebuilt = _rebuild(_flagged(invoices, actions, portfolio.as_of, today), portfolio,
                       actions, config, rows, today)
    kept = [row for row in rows if row["customer_id"] not in touched]
    merged = sorted([*kept, *rebuilt], key=rank_key)
    return [{**row, "rank": rank} for rank, row in enumerate(merged, start=1)]


def _flagged(invoices: pd.DataFrame, actions: OpenActions, as_of: dt.date,
             today: dt.date) -> pd.DataFrame:
    """The invoices with the store's disputes and promises added to the snapshot's flags."""
    frame = invoices.copy()
    for flag in HOLD_FLAGS:  # a snapshot written before the flags were kept: none
        frame[flag] = frame[flag].astype(bool) if flag in frame else False
    active, broken = _covered(actions, as_of, today)
    issued = pd.to_datetime(frame["issue_date"]).dt.date
    keys = list(zip(frame["customer_id"], frame["invoice_id"], issued, strict=True))
    frame["has_open_dispute"] |= frame["invoice_id"].isin(actions.disputed)
    frame["has_active_promise"] |= np.array([_covers(active, key) for key in keys], bool)
    frame["has_broken_promise"] |= np.array([_covers(broken, key) for key in keys], bool)
    return frame


Cover = tuple[set[str], dict[str, dt.date]]
"""Invoices named by promises, and customer -> latest creation day of a promise naming none."""


def _covered(actions: OpenActions, as_of: dt.date, today: dt.date) -> tuple[Cover, Cover]:
    """What the promises not yet due cover, and what the broken ones do: a promise whose
    date has passed but not before the snapshot (which cannot judge it yet)."""
    active: Cover = (set(), {})
    broken: Cover = (set(), {})
    for promise in actions.promises:
        if promise.promised_date >= today:
            named, whole = active
        elif promise.promised_date >= as_of:
            named, whole = broken
        else:
            continue
        if promise.invoice_ids:
            named.update((promise.customer_id, i) for i in promise.invoice_ids)
        else:  # an active one covers every invoice, a broken one those issued by then
            day = dt.date.max if whole is active[1] else promise.created_at.date()
            whole[promise.customer_id] = max(day, whole.get(promise.customer_id, day))
    return active, broken


def _covers(cover: Cover, key: tuple[str, str, dt.date]) -> bool:
    """Whether an invoice (customer, invoice, issue day) is covered: named, or issued by the
    day a promise of its customer naming no invoice covers (as the features judge them)."""
    customer, invoice, issued = key
    named, whole = cover
    return (customer, invoice) in named or (customer in whole and issued <= whole[customer])


def _rebuild(invoices: pd.DataFrame, portfolio: Portfolio, actions: OpenActions,
             config: WorklistConfig, rows: Sequence[Mapping[str, Any]],
             today: dt.date) -> list[dict[str, Any]]:
    """Worklist rows of these invoices' customers, as the snapshot's rows are made."""
    if invoices.empty:
        return []
    currency = rows[0]["currency"] if rows else config.reporting_currency
    texts = [{"raises": [{"text": t} for t in (reasons if reasons is not None else [])]}
             for reasons in invoices.get("reasons", pd.Series([None] * len(invoices)))]
    frame = build_worklist(invoices.reset_index(drop=True),
                           config=config.model_copy(update={"reporting_currency": currency}),
                           reasons=texts)
    before = {row["customer_id"]: row for row in rows}
    country = portfolio.customers.set_index("customer_id")["country"]
    rebuilt = []
    for row in records(frame):
        customer = row["customer_id"]
        row["country"] = country.get(customer)
        row["collector"] = before.get(customer, {}).get("collector")
        row["reasons"] = _promise_reasons(row, actions, portfolio.as_of, today) + row["reasons"]
        rebuilt.append(row)
    return rebuilt


def _promise_reasons(row: Mapping[str, Any], actions: OpenActions, as_of: dt.date,
                     today: dt.date) -> list[str]:
    """The customer's store promises that hold them or were broken, in words."""
    texts = []
    for promise in actions.promises:
        if promise.customer_id != row["customer_id"]:
            continue
        if promise.promised_date >= today:
            texts.append(promise.text(broken=False))
        elif promise.promised_date >= as_of and row["broken_promise"]:
            texts.append(promise.text(broken=True))
    return texts


def overlaid_frame(portfolio: Portfolio, store: Store, config: WorklistConfig,
                   today: dt.date) -> pd.DataFrame:
    """The snapshot's worklist frame with the store's actions laid over it (`o2c worklist`)."""
    rows = overlay_worklist(records(portfolio.worklist), portfolio,
                            open_actions(store, portfolio.as_of), config, today)
    return pd.DataFrame(rows, columns=list(portfolio.worklist.columns))
