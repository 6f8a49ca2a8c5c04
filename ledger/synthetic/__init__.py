"""Synthetic receivables ledger: a realistic B2B accounts-receivable book with a known truth.

`generate_ledger` simulates customers, invoices and everything that happens to them (payments,
partial payments, credit notes, disputes, promises to pay, defaults), fully vectorized with one
numpy Generator, and returns the contract tables of `ledger.schema` plus two truth tables the
product never reads:

- `truth_invoices`: `invoice_id`, `p_late_true`, the probability the simulator used to draw
  whether the invoice is settled after its due date (one uniform per invoice compared with it,
  so no model can do better);
- `truth_customers`: `customer_id`, `creditworthiness_end` (the latent state at the last ledger
  month, higher is better), `default_date` (null when the customer did not default) and its
  payment habit: `payment_habit`, `run_weekday` (0 = Monday, weekly payers only) and
  `bank_lag_days`.

The story, in draw order:

1. customers: country and currency, industry (each with a base risk), lognormal annual sales
   and a size segment, payment terms, a risk-blind credit limit (about two months of the sales
   stated at onboarding) and an account opening date (before or during the ledger);
2. payment habits: weekly runs on a weekday, twice a month, month end or none (any business
   day), a bank lag for some, a propensity to slip and a laxity (an own logit of delaying a
   payment, apart from creditworthiness); the customer's pay days are its runs
   moved off weekends and its country's public holidays (`paydays`);
3. creditworthiness: an AR(1) process per customer-month around a customer's long-run level;
4. defaults: a monthly hazard driven by low creditworthiness and industry risk;
5. invoices: Poisson counts per customer-month (size x seasonality x quarter-end bump),
   lognormal amounts around the customer's typical invoice, due = issue + terms (any day);
6. lateness: an invoice is delayed with p_delay = sigmoid(intercept + industry risk
   - creditworthiness + the customer's laxity + b log(amount / typical) + c utilization
   + quarter-end + shock), and
   independently slips to the customer's first pay day after the due date with p_slip (zero
   when the due date is a pay day, highest when a pay day follows it at once: a due date on
   a Saturday is paid on Monday); p_late_true = 1 - (1 - p_delay)(1 - p_slip) and late ~
   Bernoulli exactly. An invoice due on or after its customer's default date is never paid:
   p_late_true = 1;
7. outcomes given lateness, every payment on a pay day of the customer: settlement dates (on
   time: the last pay day by the due date or an earlier one; slipped: the first pay day after
   it; delayed: the first pay day after a short or long delay), disputes (more likely when
   late; a late disputed invoice is settled after the dispute resolves, an on-time one is
   resolved and paid by its due date), credit notes, partial payments, promises to pay (kept
   or broken);
8. censoring: nothing dated on or after the ledger end is written, and a defaulted customer
   pays and is credited nothing from its default date on.

Amounts are in the customer's currency; `fx_rates` converts them into the base currency, USD.

The package, one job per module: `config` (what to generate, names and types of the tables),
`parameters` (the simulator's fixed numbers), `timeline` (the months as epoch days), `numeric`
(shared helpers), `customers` (steps 1, 3, 4), `paydays` (step 2), `invoices` (steps 5-6 and
settlement days), `events` (step 7), `tables` (the Arrow tables, censored as in step 8),
`writer` (`write_ledger`) and `figures` (payment-timing figures of any ledger, for the docs).
Names with a leading underscore are private to the package. This module runs the steps in order:
`generate_ledger` looks each step up here, so a test may patch one (e.g. `_draw_lateness`) on
this module.
"""

from __future__ import annotations

# `os`, `pq`, `_Invoices` and `_add_months` stay attributes of this package for the tests, which
# reach them (and patch `os.replace`, `pq.write_table`) through it.
import os  # noqa: F401

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq  # noqa: F401

from ledger.synthetic.config import (
    ARROW_TYPES,
    BASE_CURRENCY,
    LEDGER_TABLES,
    TABLE_NAMES,
    TRUTH_SCHEMAS,
    SyntheticConfig,
)
from ledger.synthetic.customers import _creditworthiness, _default_dates, _draw_customers
from ledger.synthetic.events import (
    _draw_credit_notes,
    _draw_disputes,
    _draw_payments,
    _draw_promises,
)
from ledger.synthetic.invoices import (
    _delay_probability,
    _draw_invoices,
    _draw_lateness,
    _Invoices,  # noqa: F401  (re-exported for tests)
    _settlement_dates,
    _slip_probability,
    _utilization,
)
from ledger.synthetic.paydays import _draw_habits, _pay_days
from ledger.synthetic.tables import (
    _credit_notes_table,
    _customers_table,
    _disputes_table,
    _fx_table,
    _ids,
    _invoices_table,
    _payments_table,
    _promises_table,
    _truth_tables,
)
from ledger.synthetic.timeline import (
    _add_months,  # noqa: F401  (re-exported for tests)
    _calendar,
)
from ledger.synthetic.writer import write_ledger

__all__ = [
    "ARROW_TYPES",
    "BASE_CURRENCY",
    "LEDGER_TABLES",
    "TABLE_NAMES",
    "TRUTH_SCHEMAS",
    "SyntheticConfig",
    "generate_ledger",
    "write_ledger",
]


def generate_ledger(config: SyntheticConfig) -> dict[str, pa.Table]:
    """Simulate a receivables ledger; keys are `TABLE_NAMES` (contract tables, then truth)."""
    rng = np.random.default_rng(config.seed)
    cal = _calendar(config)
    customers = _draw_customers(rng, config, cal)
    habits = _draw_habits(rng, customers.country)
    paydays = _pay_days(habits, customers.country, cal)
    cw = _creditworthiness(rng, customers, cal)
    default_day = _default_dates(rng, customers, cw, cal)
    invoices = _draw_invoices(rng, customers, cw, default_day, cal)
    utilization = _utilization(customers, invoices, cal)
    p_delay = _delay_probability(customers, habits, invoices, utilization, cal, config)
    del utilization
    invoices = _draw_lateness(rng, invoices, p_delay, _slip_probability(invoices, habits,
                                                                        paydays))
    del p_delay
    settle = _settlement_dates(rng, invoices, cal, config, paydays)
    disputes, settle = _draw_disputes(rng, invoices, settle, paydays)
    disputed = np.zeros(len(invoices), dtype=bool)
    disputed[disputes.invoice] = True
    credits = _draw_credit_notes(rng, invoices, settle, disputes, disputed)
    payments = _draw_payments(rng, invoices, settle, credits, disputed, paydays)
    promises = _draw_promises(rng, invoices, settle, credits, disputed)

    customer_ids = _ids("C", len(customers.created), 6)
    invoice_ids = _ids("INV", len(invoices), 8)
    tables = {
        "customers": _customers_table(customers, customer_ids),
        "invoices": _invoices_table(rng, invoices, customers, invoice_ids, customer_ids),
        "payments": _payments_table(payments, invoices, customers, invoice_ids, customer_ids),
        "credit_notes": _credit_notes_table(credits, invoices, invoice_ids, customer_ids),
        "disputes": _disputes_table(disputes, invoices, invoice_ids),
        "promises": _promises_table(promises, invoices, invoice_ids, customer_ids, cal.end),
        "fx_rates": _fx_table(customers),
    }
    tables.update(_truth_tables(invoices, cw, default_day, habits, invoice_ids, customer_ids))
    return tables
