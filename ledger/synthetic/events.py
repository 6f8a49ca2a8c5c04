"""What happens to invoices after issue: disputes, credit notes, payments, promises to pay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic.invoices import _Invoices
from ledger.synthetic.numeric import _choose, _sigmoid
from ledger.synthetic.parameters import (
    _CREDIT_FULL_RETURN_SHARE,
    _CREDIT_NOTE_SHARE,
    _CREDIT_REASONS,
    _DISPUTE_CREDIT_SHARE,
    _DISPUTE_FULL_CREDIT_SHARE,
    _DISPUTE_IF_LATE,
    _DISPUTE_IF_ON_TIME,
    _DISPUTE_REASONS,
    _DISPUTE_RESOLUTION_DAYS,
    _DOOMED_PROMISE_HORIZON,
    _MIN_SPLIT_CENTS,
    _NEVER,
    _PARTIAL_SHARE,
    _PROMISE_MIN_DAYS_LATE,
    _PROMISE_PARTIAL_SHARE,
    _PROMISE_SHARE,
    _THREE_INSTALMENT_SHARE,
)
from ledger.synthetic.paydays import _PayDays


@dataclass(frozen=True)
class _Disputes:
    """Disputes, one entry per disputed invoice."""

    invoice: np.ndarray
    opened: np.ndarray
    resolved: np.ndarray
    reason: np.ndarray
    credit_cents: np.ndarray


def _draw_disputes(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                   paydays: _PayDays) -> tuple[_Disputes, np.ndarray]:
    """Disputes drawn given lateness, and the settlement days they imply.

    On time: opened in the first half of the terms, resolved and paid by the due date.
    Late: opened up to 20 days after due, settled after it is resolved (never when doomed).
    Payments fall on the customer's pay days (on time: one between resolution and due date
    when there is one).
    Some disputes end in a credit note dated at resolution (a full one settles the invoice).
    """
    rate = np.where(invoices.late, _DISPUTE_IF_LATE, _DISPUTE_IF_ON_TIME)
    index = np.flatnonzero(rng.random(len(invoices)) < rate)
    late, doomed = invoices.late[index], invoices.doomed[index]
    issue, due = invoices.issue[index], invoices.due[index]
    terms = due - issue
    u_open, u_resolve, u_pay, u_outcome, u_full, u_share = rng.random((6, len(index)))
    resolution_days = np.floor(rng.exponential(size=len(index)) * _DISPUTE_RESOLUTION_DAYS)

    opened_on_time = issue + np.floor(u_open * terms * 0.5)
    resolved_on_time = opened_on_time + 1 + np.floor(u_resolve * (due - opened_on_time - 1))
    customer = invoices.customer[index]
    settle_on_time = paydays.within(
        customer, resolved_on_time + np.floor(u_pay * (due - resolved_on_time + 1)),
        resolved_on_time, due)
    opened_late = issue + np.floor(u_open * (terms + 20))
    resolved_late = opened_late + 2 + resolution_days
    settle_late = paydays.next_on_or_after(
        customer, np.maximum(due + 1, resolved_late + np.floor(u_pay * 10)))

    credited = ~doomed & (u_outcome < _DISPUTE_CREDIT_SHARE)
    full = credited & (u_full < _DISPUTE_FULL_CREDIT_SHARE)
    opened = np.where(late, opened_late, opened_on_time)
    resolved = np.where(late, resolved_late, resolved_on_time)
    resolved = np.where(full & late, np.maximum(resolved, due + 1), resolved)
    new_settle = np.where(full, resolved, np.where(late, settle_late, settle_on_time))
    resolved = np.where(doomed, _NEVER, resolved)
    amount = invoices.cents[index]
    share = 0.1 + 0.5 * u_share
    credit = np.where(full, amount, np.where(credited, np.rint(amount * share), 0))

    settle = settle.copy()
    settle[index] = np.where(doomed, _NEVER, new_settle)
    reason = _choose(rng, np.array([w for _, w in _DISPUTE_REASONS]), len(index))
    disputes = _Disputes(invoice=index, opened=opened.astype(np.int32),
                         resolved=resolved.astype(np.int32), reason=reason,
                         credit_cents=credit.astype(np.int64))
    return disputes, settle


@dataclass(frozen=True)
class _CreditNotes:
    """Credit notes, at most one per invoice, sorted by invoice."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    reason: np.ndarray
    """Index into _credit_reason_names(): a _CREDIT_REASONS entry or the dispute settlement."""


def _credit_reason_names() -> list[str]:
    return [r for r, _ in _CREDIT_REASONS] + ["dispute_settlement"]


def _draw_credit_notes(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                       disputes: _Disputes, disputed: np.ndarray) -> _CreditNotes:
    """Pricing, return, rebate credits on a few undisputed invoices, plus dispute outcomes.

    A full return (on-time invoices only) is dated at settlement and settles the invoice;
    a partial credit falls between issue and settlement.
    """
    n = len(invoices)
    chosen = (rng.random(n) < _CREDIT_NOTE_SHARE) & ~disputed & ~invoices.doomed
    index = np.flatnonzero(chosen)
    u_full, u_day, u_share = rng.random((3, len(index)))
    full = ~invoices.late[index] & (u_full < _CREDIT_FULL_RETURN_SHARE)
    issue, end = invoices.issue[index], settle[index]
    day = np.where(full, end, issue + np.floor(u_day * (end - issue + 1)))
    amount = invoices.cents[index]
    cents = np.where(full, amount, np.rint(amount * (0.05 + 0.25 * u_share)))
    full_return = _credit_reason_names().index("return")
    reason = np.where(full, full_return, _choose(
        rng, np.array([w for _, w in _CREDIT_REASONS]), len(index)))
    from_dispute = disputes.credit_cents > 0
    invoice = np.concatenate([index, disputes.invoice[from_dispute]])
    order = np.argsort(invoice, kind="stable")
    return _CreditNotes(
        invoice=invoice[order],
        day=np.concatenate([day, disputes.resolved[from_dispute]]).astype(np.int32)[order],
        cents=np.concatenate([cents, disputes.credit_cents[from_dispute]]).astype(
            np.int64)[order],
        reason=np.concatenate([reason, np.full(from_dispute.sum(), len(_CREDIT_REASONS))]
                              )[order],
    )


@dataclass(frozen=True)
class _Payments:
    """Payments, one entry per instalment (before censoring)."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    instalment: np.ndarray


def _draw_payments(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                   credits: _CreditNotes, disputed: np.ndarray, paydays: _PayDays
                   ) -> _Payments:
    """What credit notes leave open is paid at settlement, sometimes in 2-3 instalments.

    Earlier instalments fall between issue and settlement, on a pay day of the customer when
    there is one (else at settlement); the last one takes the remainder
    so that payments plus credits equal the amount to the cent.
    """
    n = len(invoices)
    credited = np.bincount(credits.invoice, weights=credits.cents, minlength=n)
    remaining = invoices.cents - credited.astype(np.int64)
    u_split, u_three, u_a, u_b, u_fa, u_fb = rng.random((6, n))
    split = ((u_split < _PARTIAL_SHARE) & ~disputed & ~invoices.doomed
             & (remaining >= _MIN_SPLIT_CENTS))
    count = np.where(remaining > 0, 1, 0) + split * (1 + (u_three < _THREE_INSTALMENT_SHARE))
    count[invoices.doomed] = 0
    span = settle - invoices.issue + 1
    day_a = np.minimum(paydays.next_on_or_after(
        invoices.customer, invoices.issue + np.floor(u_a * span).astype(np.int64)), settle)
    day_b = np.minimum(paydays.next_on_or_after(
        invoices.customer, invoices.issue + np.floor(u_b * span).astype(np.int64)), settle)
    three = count == 3
    first_cents = np.where(count >= 2, np.floor(
        remaining * np.where(three, 0.2 + 0.2 * u_fa, 0.3 + 0.4 * u_fa)), 0)
    second_cents = np.where(three, np.floor(remaining * (0.2 + 0.2 * u_fb)), 0)
    instalments = [  # (invoices having it, day, cents), in instalment order
        (np.flatnonzero(count >= 2), np.where(three, np.minimum(day_a, day_b), day_a),
         first_cents),
        (np.flatnonzero(three), np.maximum(day_a, day_b), second_cents),
        (np.flatnonzero(count >= 1), settle, remaining - first_cents - second_cents),
    ]
    return _Payments(
        invoice=np.concatenate([index for index, _, _ in instalments]),
        day=np.concatenate([day[index] for index, day, _ in instalments]).astype(np.int32),
        cents=np.concatenate([cents[index] for index, _, cents in instalments]
                             ).astype(np.int64),
        instalment=np.concatenate([np.full(len(index), number, dtype=np.int8)
                                   for number, (index, _, _) in enumerate(instalments)]),
    )


@dataclass(frozen=True)
class _Promises:
    """Promises to pay, one entry per promise (before censoring)."""

    invoice: np.ndarray
    created: np.ndarray
    promised: np.ndarray
    cents: np.ndarray
    kept: np.ndarray


def _draw_promises(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                   credits: _CreditNotes, disputed: np.ndarray) -> _Promises:
    """Promises on some invoices at least 5 days overdue, kept or broken.

    Reliable (creditworthy) customers keep them: settlement on or before the promised day.
    A broken promise's day passes before payment (or the customer defaults first).
    """
    n = len(invoices)
    days_late = settle.astype(np.int64) - invoices.due
    eligible = invoices.late & ~disputed & (days_late >= _PROMISE_MIN_DAYS_LATE)
    index = np.flatnonzero(eligible & (rng.random(n) < _PROMISE_SHARE))
    u_keep, u_lag, u_wait, u_partial = rng.random((4, len(index)))
    due, end = invoices.due[index], settle[index].astype(np.int64)
    reliability = _sigmoid(0.5 + 1.2 * invoices.cw[index])
    kept = (u_keep < reliability) & (end < invoices.default_day[index])

    kept_promised = end + np.floor(u_wait * 4)
    kept_created = np.maximum(due + 1, kept_promised - 3 - np.floor(u_lag * 12))
    horizon = np.where(invoices.doomed[index], _DOOMED_PROMISE_HORIZON, days_late[index])
    broken_created = due + 1 + np.floor(u_lag * (horizon - 4))
    broken_promised = np.minimum(broken_created + 3 + np.floor(u_wait * 11), due + horizon - 1)

    credited = np.bincount(credits.invoice, weights=credits.cents, minlength=n)[index]
    open_cents = invoices.cents[index] - credited
    cents = np.where(u_partial < _PROMISE_PARTIAL_SHARE,
                     np.maximum(np.floor(open_cents / 2), 1), open_cents)
    return _Promises(
        invoice=index,
        created=np.where(kept, kept_created, broken_created).astype(np.int32),
        promised=np.where(kept, kept_promised, broken_promised).astype(np.int32),
        cents=cents.astype(np.int64), kept=kept,
    )
