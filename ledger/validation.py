"""Business rules a typed ledger must satisfy; each rule reports the offending rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ledger.issues import LedgerIssue, collect
from ledger.schema import MAX_AMOUNT, MAX_RATE, TABLES

if TYPE_CHECKING:
    from ledger.loader import Ledger


class Rule(NamedTuple):
    """A check: the query selects one row per violation, key columns first."""

    table: str
    column: str
    problem: str
    query: str


def _unique_key_rules() -> list[Rule]:
    return [
        Rule(t.name, t.key, f"duplicate {t.key} (expected unique)",
             f'SELECT "{t.key}", count(*) AS rows FROM "{t.name}" GROUP BY 1 HAVING count(*) > 1')
        for t in TABLES.values()
    ]


def _known_reference_rules() -> list[Rule]:
    refs = [
        ("invoices", "invoice_id", "customer_id", "customers"),
        ("payments", "payment_id", "invoice_id", "invoices"),
        ("payments", "payment_id", "customer_id", "customers"),
        ("credit_notes", "credit_note_id", "invoice_id", "invoices"),
        ("credit_notes", "credit_note_id", "customer_id", "customers"),
        ("disputes", "dispute_id", "invoice_id", "invoices"),
        ("promises", "promise_id", "customer_id", "customers"),
        ("promises", "promise_id", "invoice_id", "invoices"),
    ]
    return [
        Rule(table, column, f"unknown {column} (not in {target})",
             f'SELECT t."{key}", t."{column}" FROM "{table}" t '
             f'ANTI JOIN "{target}" r ON t."{column}" = r."{column}" '
             f'WHERE t."{column}" IS NOT NULL')
        for table, key, column, target in refs
    ]


def _dated_after_invoice_rules() -> list[Rule]:
    facts = [
        ("credit_notes", "credit_note_id", "issue_date", "credit note dated before its invoice"),
        ("disputes", "dispute_id", "opened_date", "dispute opened before its invoice"),
    ]
    return [
        Rule(table, column, problem,
             f'SELECT t."{key}", t."{column}", i.invoice_id, i.issue_date AS invoice_issue_date '
             f'FROM "{table}" t JOIN invoices i USING (invoice_id) '
             f'WHERE t."{column}" < i.issue_date')
        for table, key, column, problem in facts
    ]


def _same_customer_rules() -> list[Rule]:
    return [
        Rule(table, "customer_id", "customer_id differs from the invoice's customer",
             f'SELECT t."{key}", t.customer_id, i.invoice_id, i.customer_id AS invoice_customer '
             f'FROM "{table}" t JOIN invoices i USING (invoice_id) '
             f'WHERE t.customer_id <> i.customer_id')
        for table, key in [("payments", "payment_id"), ("credit_notes", "credit_note_id"),
                           ("promises", "promise_id")]
    ]


def _amount_rules() -> list[Rule]:
    positive = [("invoices", "invoice_id"), ("payments", "payment_id"),
                ("credit_notes", "credit_note_id"), ("promises", "promise_id")]
    rules = [
        Rule(table, "amount", "non-positive amount (expected > 0)",
             f'SELECT "{key}", amount FROM "{table}" WHERE amount <= 0')
        for table, key in positive
    ]
    numbers = [*((t, k, "amount", MAX_AMOUNT) for t, k in positive),
               ("customers", "customer_id", "credit_limit", MAX_AMOUNT),
               ("fx_rates", "currency", "rate_to_base", MAX_RATE)]
    rules += [
        Rule(table, column, f"not a finite number (expected a finite {column})",
             f'SELECT "{key}", "{column}" FROM "{table}" WHERE NOT isfinite("{column}")')
        for table, key, column, _ in numbers
    ]
    rules += [
        Rule(table, column, f"{column} above the maximum (expected at most {limit:,.0f})",
             f'SELECT "{key}", "{column}" FROM "{table}" '
             f'WHERE isfinite("{column}") AND "{column}" > {limit!r}')
        for table, key, column, limit in numbers
    ]
    return rules


RULES: list[Rule] = [
    *_unique_key_rules(),
    *_known_reference_rules(),
    *_dated_after_invoice_rules(),
    *_same_customer_rules(),
    *_amount_rules(),
    Rule("customers", "credit_limit", "negative credit limit (expected >= 0)",
         "SELECT customer_id, credit_limit FROM customers WHERE credit_limit < 0"),
    Rule("customers", "payment_terms_days", "negative payment terms (expected >= 0 days)",
         "SELECT customer_id, payment_terms_days FROM customers WHERE payment_terms_days < 0"),
    Rule("fx_rates", "rate_to_base", "non-positive rate (expected > 0)",
         "SELECT currency, rate_to_base FROM fx_rates WHERE rate_to_base <= 0"),
    Rule("invoices", "due_date", "due date before issue date",
         "SELECT invoice_id, issue_date, due_date FROM invoices WHERE due_date < issue_date"),
    Rule("invoices", "currency", "invoice currency differs from the customer's currency",
         "SELECT i.invoice_id, i.currency, c.customer_id, c.currency AS customer_currency "
         "FROM invoices i JOIN customers c USING (customer_id) WHERE i.currency <> c.currency"),
    Rule("disputes", "resolved_date", "dispute resolved before it was opened",
         "SELECT dispute_id, opened_date, resolved_date FROM disputes "
         "WHERE resolved_date < opened_date"),
    Rule("promises", "promised_date", "promised date before the promise was made",
         "SELECT promise_id, created_date, promised_date FROM promises "
         "WHERE promised_date < created_date"),
    Rule("invoices", "amount", "payments and credit notes exceed the invoice amount",
         "SELECT i.invoice_id, i.amount, round(a.applied, 2) AS applied FROM invoices i JOIN "
         "(SELECT invoice_id, sum(amount) AS applied FROM (SELECT invoice_id, amount FROM "
         "payments UNION ALL SELECT invoice_id, amount FROM credit_notes) GROUP BY 1) a "
         "USING (invoice_id) WHERE a.applied > i.amount + 0.005"),
    Rule("customers", "currency",
         "mixed currencies without an exchange rate (add the currency to fx_rates)",
         "SELECT DISTINCT c.currency FROM customers c ANTI JOIN fx_rates f USING (currency) "
         "WHERE (SELECT count(DISTINCT currency) FROM customers) > 1"),
]


def check_ledger(ledger: Ledger) -> list[LedgerIssue]:
    """Every rule violation in a typed ledger, in the order of `RULES`."""
    issues: list[LedgerIssue] = []
    for rule in RULES:
        issues += collect(ledger.con, rule.table, rule.column, rule.problem, rule.query)
    return issues
