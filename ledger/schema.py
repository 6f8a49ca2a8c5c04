"""The ledger contract: every table and column a receivables ledger may hold, in one place.

`docs/ledger.md` is written from this module (`python -m ledger.schema` prints it), so the
documentation and the checks never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["id", "text", "date", "amount", "int", "bool", "rate"]

DUCKDB_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "date": "DATE",
    "amount": "DOUBLE",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "rate": "DOUBLE",
}

MAX_AMOUNT = 1e12
"""Largest amount or credit limit accepted (a trillion units of the currency): far above any
real invoice, low enough that sums in cents stay finite and exact to the cent."""
MAX_RATE = 1e6
"""Largest exchange rate accepted, so that no converted amount can overflow."""

CSV_FORMATS: dict[ColumnType, str] = {
    "id": "any text",
    "text": "any text",
    "date": "a date as YYYY-MM-DD, e.g. 2024-12-31",
    "amount": "a number with '.' as the decimal point, no thousands separator or currency "
              "sign, e.g. 1234.50",
    "int": "a whole number, e.g. 30",
    "bool": "true or false",
    "rate": "a number with '.' as the decimal point, e.g. 0.92",
}
"""How a value of each column type is written in a CSV file (Parquet holds typed values)."""


@dataclass(frozen=True)
class Column:
    """One column of a ledger table."""

    name: str
    type: ColumnType
    description: str
    required: bool = True

    @property
    def duckdb_type(self) -> str:
        """The DuckDB type the column is loaded as."""
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One table of the ledger: its key, its columns and whether a ledger must have it."""

    name: str
    description: str
    key: str
    columns: tuple[Column, ...]
    required: bool = False

    @property
    def column_names(self) -> list[str]:
        """All contract columns, required first as declared."""
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Columns a file of this table must have."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)


CUSTOMERS = Table(
    "customers",
    "One row per customer account.",
    key="customer_id",
    required=True,
    columns=(
        Column("customer_id", "id", "Unique customer identifier."),
        Column("country", "text", "ISO 3166 alpha-2 country code, e.g. `DE`."),
        Column("currency", "text", "ISO 4217 currency the customer is invoiced in, e.g. `EUR`."),
        Column("payment_terms_days", "int", "Standard payment terms in days (net N), a whole "
               "number >= 0."),
        Column("credit_limit", "amount", "Current credit limit in the customer's currency, >= 0; "
               "empty (or no column) when unknown: utilization is then missing and limits are "
               "recommended from need and risk alone.", required=False),
        Column("name", "text", "Display name.", required=False),
        Column("industry", "text", "Industry of the customer.", required=False),
        Column("segment", "text", "Size segment, e.g. `small`, `mid`, `large`.", required=False),
        Column("created_date", "date", "Date the account was opened.", required=False),
    ),
)

INVOICES = Table(
    "invoices",
    "One row per invoice (a debit the customer owes).",
    key="invoice_id",
    required=True,
    columns=(
        Column("invoice_id", "id", "Unique invoice identifier."),
        Column("customer_id", "id", "The customer billed; must exist in customers."),
        Column("issue_date", "date", "Date the invoice was issued."),
        Column("due_date", "date", "Date payment is due; not before issue_date."),
        Column("amount", "amount", "Gross amount owed, > 0, in the invoice currency."),
        Column("currency", "text", "ISO 4217 currency; must equal the customer's currency."),
        Column("document_type", "text", "Document type as exported, e.g. `invoice`.",
               required=False),
        Column("po_number", "text", "Customer purchase-order reference.", required=False),
        Column("paperless", "bool", "How the invoice was delivered, known at issue: true when "
               "electronically (e-mail, EDI, portal), false when on paper; empty if unknown. "
               "Features read it as of the issue date (`paperless`, the customer's earlier "
               "invoices by channel); without it they are missing.", required=False),
    ),
)

PAYMENTS = Table(
    "payments",
    "One row per payment applied to an invoice; several partial payments per invoice are fine.",
    key="payment_id",
    columns=(
        Column("payment_id", "id", "Unique payment identifier."),
        Column("invoice_id", "id", "The invoice paid; must exist in invoices."),
        Column("customer_id", "id", "The paying customer; must be the invoice's customer."),
        Column("payment_date", "date", "Date the payment was received. A payment dated before "
               "its invoice (a deposit, a payment on account) is kept as exported and counts "
               "from the invoice's issue date."),
        Column("amount", "amount", "Amount applied to the invoice, > 0."),
        Column("method", "text", "Payment method, e.g. `wire`, `card`.", required=False),
    ),
)

CREDIT_NOTES = Table(
    "credit_notes",
    "One row per credit note reducing what is owed on an invoice.",
    key="credit_note_id",
    columns=(
        Column("credit_note_id", "id", "Unique credit-note identifier."),
        Column("invoice_id", "id", "The invoice credited; must exist in invoices."),
        Column("customer_id", "id", "The customer; must be the invoice's customer."),
        Column("issue_date", "date", "Date the credit note was issued; not before the invoice."),
        Column("amount", "amount", "Amount credited, > 0."),
        Column("reason", "text", "Why the credit was given.", required=False),
    ),
)

DISPUTES = Table(
    "disputes",
    "One row per dispute raised by a customer on an invoice.",
    key="dispute_id",
    columns=(
        Column("dispute_id", "id", "Unique dispute identifier."),
        Column("invoice_id", "id", "The disputed invoice; must exist in invoices."),
        Column("opened_date", "date", "Date the dispute was opened; not before the invoice."),
        Column("resolved_date", "date", "Date it was resolved; empty while open.",
               required=False),
        Column("reason", "text", "Dispute reason, e.g. `pricing`, `delivery`.", required=False),
    ),
)

PROMISES = Table(
    "promises",
    "One row per promise to pay made by a customer to a collector.",
    key="promise_id",
    columns=(
        Column("promise_id", "id", "Unique promise identifier."),
        Column("customer_id", "id", "The promising customer; must exist in customers."),
        Column("created_date", "date", "Date the promise was made."),
        Column("promised_date", "date", "Date by which payment was promised; not before "
               "created_date."),
        Column("amount", "amount", "Amount promised, > 0."),
        Column("invoice_id", "id", "The invoice the promise covers, if any.", required=False),
        Column("kept", "bool", "Whether the promise was kept, as recorded; empty if unknown. "
               "The product derives kept/broken from payments itself.", required=False),
    ),
)

FX_RATES = Table(
    "fx_rates",
    "Exchange rates into the reporting currency, needed when customers use several "
    "currencies. Not in the original design card: added so amounts can be compared "
    "across customers.",
    key="currency",
    columns=(
        Column("currency", "text", "ISO 4217 currency code."),
        Column("rate_to_base", "rate", "Units of the reporting currency per unit, > 0 "
               "and at most 1,000,000."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, INVOICES, PAYMENTS, CREDIT_NOTES, DISPUTES, PROMISES, FX_RATES)
}


def markdown() -> str:
    """The contract as Markdown tables, one section per ledger table."""
    lines = ["### Values", "",
             "CSV files are UTF-8 text, comma-separated, with a header row naming the columns; a "
             "value holding a comma is quoted with `\"`. Each column type is written as:", "",
             "| type | in a CSV file |", "|---|---|"]
    lines += [f"| {kind} | {written} |" for kind, written in CSV_FORMATS.items()]
    lines += ["", f"Amounts and credit limits are at most {MAX_AMOUNT:,.0f}; rates at most "
              f"{MAX_RATE:,.0f}. Infinite or not-a-number values are errors.", ""]
    for table in TABLES.values():
        need = "required" if table.required else "optional, absent means empty"
        lines += [f"### `{table.name}` ({need})", "", table.description, "",
                  f"Key: `{table.key}` (unique).", "",
                  "| column | type | required | meaning |", "|---|---|---|---|"]
        for c in table.columns:
            lines.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | {c.description} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
