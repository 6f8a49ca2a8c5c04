"""Request and response bodies of the API (pydantic): what the OpenAPI spec shows.

Requests are strict: no unknown fields, no NaN or infinite numbers, numbers must be JSON
numbers and booleans JSON booleans (no "1250" or true for an amount), dates ISO strings in
[DATE_MIN, DATE_MAX]; every error names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from serving.config import DATE_MAX, DATE_MIN, ID_LIST_CEILING, MAX_BATCH, MAX_IDS

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
DATE_RANGE = f"from {DATE_MIN} to {DATE_MAX}"


def _in_range(day: dt.date) -> dt.date:
    if not DATE_MIN <= day <= DATE_MAX:
        raise PydanticCustomError("date_range", "date {day} is out of range: dates go {range}",
                                  {"day": day.isoformat(), "range": DATE_RANGE})
    return day


Day = Annotated[dt.date, AfterValidator(_in_range)]
"""A date of a request: YYYY-MM-DD, from DATE_MIN to DATE_MAX."""


def openapi30(schema: dict[str, Any]) -> None:
    """Rewrite pydantic's JSON Schema into OpenAPI 3.0 (what BentoML publishes): `anyOf:
    [X, {"type": "null"}]` becomes X with `nullable: true`, and a numeric
    `exclusiveMinimum: m` becomes `minimum: m, exclusiveMinimum: true` (same for maximum)."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            del prop["anyOf"]
            if len(rest) == 1 and "$ref" in rest[0]:
                prop["allOf"] = rest
            elif len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            prop["nullable"] = True
        for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = prop.get(bound)
            if isinstance(value, int | float) and not isinstance(value, bool):
                prop[plain] = value
                prop[bound] = True


class Request(BaseModel):
    """Base of every request body: no unknown fields, no NaN or infinite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True,
                              json_schema_extra=openapi30)


class Response(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(json_schema_extra=openapi30)


class PostedInvoice(Request):
    """An invoice to score."""

    invoice_id: Id
    customer_id: Id
    issue_date: Day = Field(description=f"YYYY-MM-DD, {DATE_RANGE}")
    due_date: Day = Field(description=f"YYYY-MM-DD, {DATE_RANGE}, not before issue_date")
    amount: float = Field(gt=0, le=1e13, description="Invoice amount in its currency, > 0")
    currency: Currency = Field(description="ISO 4217 code; the customer's own currency")
    paperless: bool | None = Field(
        None, description="true if the invoice is sent electronically (e-mail, EDI, portal), "
                          "false if on paper; omitted or null if unknown")

    @model_validator(mode="after")
    def _due_after_issue(self) -> PostedInvoice:
        if self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        return self


class ScoreRequest(Request):
    """Invoices to score, as of a date (default: the snapshot's date)."""

    invoices: list[PostedInvoice] = Field(
        min_length=1, max_length=ID_LIST_CEILING,
        description=f"1 to [api] max_batch invoices (default {MAX_BATCH}; more: 413)")
    as_of: Day | None = Field(
        None, description="Score as of this date (an invoice issued later: as of its issue "
                          f"date), {DATE_RANGE}; default the snapshot's date")
    reasons: bool = Field(True, description="Give each score its top reasons (TreeSHAP); "
                                            "false is much faster for large batches")


class Reason(Response):
    """One feature raising the risk: its name, in words, and its log-odds contribution."""

    feature: str
    text: str
    contribution: float


class ScoredInvoice(Response):
    """The score of one posted invoice."""

    invoice_id: str
    customer_id: str
    as_of: dt.date
    p_late: float = Field(description="Probability of being settled after the due date")
    risk_band: str = Field(description="low (< 0.2), medium (< 0.5) or high")
    cold_start: bool = Field(description="The customer has no history in the snapshot: "
                                         "scored from the invoice alone")
    history_as_of: dt.date | None = Field(description="Date of the customer history used")
    reasons: list[Reason]
    pay_date_p10: dt.date | None = Field(None, description="Predicted payment date, 10% "
                                         "quantile (null without a payment-date champion)")
    pay_date_p50: dt.date | None = Field(None, description="Predicted payment date, median")
    pay_date_p90: dt.date | None = Field(None, description="Predicted payment date, 90% "
                                         "quantile")


class ScoreResponse(Response):
    """Scores in the order of the posted invoices."""

    scores: list[ScoredInvoice]


class WorklistRequest(Request):
    """Filters of the worklist (all optional)."""

    top_k: int | None = Field(None, ge=1, le=100_000, description="Only the first K rows")
    collector: Id | None = Field(None, description="Only rows assigned to this collector")
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = Field(
        None, description="Only customers of this country (ISO 3166 alpha-2)")
    min_amount: float | None = Field(None, ge=0, le=1e15,
                                     description="Only rows with at least this amount at risk")
    include_held: bool = Field(True, description="Include customers held for a dispute or "
                                                 "a promise to pay")


class WorklistResponse(Response):
    """Worklist rows in rank order, as `o2c worklist --json` prints them."""

    worklist: list[dict[str, Any]]


class LimitsRequest(Request):
    """Customers whose limits to return (empty or absent: all)."""

    customer_ids: list[Id] | None = Field(
        None, max_length=ID_LIST_CEILING,
        description=f"At most [api] max_ids ids (default {MAX_IDS}; more: 413)")


class LimitsResponse(Response):
    """Credit-limit rows, as `o2c limits --json` prints them, in the order asked (each
    customer once), and the customers asked for that have no limit in the snapshot."""

    limits: list[dict[str, Any]]
    not_found: list[str] = Field(default_factory=list,
                                 description="Ids asked for without a credit limit")


class CustomerRequest(Request):
    """One customer."""

    customer_id: Id


class CustomerProfile(Response):
    """A customer's risk profile."""

    customer_id: str
    as_of: dt.date
    features: dict[str, Any]
    scores: dict[str, Any]
    open_invoices: list[dict[str, Any]]
    limit: dict[str, Any] | None
    worklist: dict[str, Any] | None
    reasons: dict[str, list[str]]
    name: str | None = Field(None, description="The customer's name in the ledger")
    customer: dict[str, Any] | None = Field(
        None, description="The customer's attributes in the ledger (country, currency, terms, "
                          "limit, industry, segment...); null without [api] ledger")
    invoices: list[dict[str, Any]] = Field(
        default_factory=list, description="Every invoice issued before the snapshot's date, "
        "open or paid, with paid, credited and open amounts, days past due, `disputed`, "
        "`promised` (kept, broken or pending), and for open ones the snapshot's scores and "
        "predicted payment dates (pay_date_*) when it has them")
    payments: list[dict[str, Any]] = Field(default_factory=list)
    credit_notes: list[dict[str, Any]] = Field(default_factory=list)
    disputes: list[dict[str, Any]] = Field(default_factory=list,
                                           description="Each with status open or resolved")
    promises: list[dict[str, Any]] = Field(
        default_factory=list, description="Promises in the ledger, status kept, broken or "
                                          "pending")
    logged_promises: list[dict[str, Any]] = Field(
        default_factory=list, description="Promises logged in the workflow store, with who")
    activity: list[dict[str, Any]] = Field(
        default_factory=list, description="The activity log (contacts, promises, disputes, "
                                          "notes, assignments), newest first, with who")
    owner: str | None = Field(None, description="The collector who owns the customer")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Grade and limits in every stored snapshot")
    decisions: list[dict[str, Any]] = Field(
        default_factory=list, description="Credit managers' limit decisions, newest first")
    audit: list[dict[str, Any]] = Field(
        default_factory=list, description="Every audited action on the customer, newest first")


Grade = Literal["A", "B", "C", "D", "E"]


class ReviewQueueRequest(Request):
    """Filters of the credit managers' review queue (all optional)."""

    grades: list[Grade] | None = Field(None, max_length=5, description="Only these grades")
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = Field(
        None, description="Only customers of this country (ISO 3166 alpha-2)")
    segment: Id | None = Field(None, description="Only customers of this segment")
    min_exposure: float | None = Field(
        None, ge=0, le=1e15, description="Only customers with at least this open balance "
                                         "(reporting currency)")
    include_decided: bool = Field(False, description="Keep customers already decided on "
                                                     "this snapshot's recommendation")
    top_k: int | None = Field(None, ge=1, le=100_000, description="Only the first K rows")


class ReviewQueueResponse(Response):
    """Customers flagged for review, in the policy's order (`review_rank`)."""

    as_of: dt.date
    queue: list[dict[str, Any]]


class DecideLimitRequest(Request):
    """A credit manager's decision on a customer's recommended limit."""

    customer_id: Id
    decision: Literal["accept", "override"] = Field(
        description="accept: the recommended limit becomes the limit; override: `limit`")
    limit: float | None = Field(None, ge=0, le=1e13, description="The limit decided, in the "
                                "customer's currency (override only)")
    reason: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        None, description="Why (required for an override); kept in the audit log")


class DecideLimitResponse(Response):
    """The decision as stored (and audited)."""

    decision: dict[str, Any]


class AlertsRequest(Request):
    """Which alerts: the caller's (an admin: everyone's)."""

    kinds: list[Literal["grade_drop", "utilization", "broken_promise", "overdue",
                        "monitoring"]] | None = Field(None, max_length=5,
                                                      description="Only these kinds")
    limit: int = Field(200, ge=1, le=5000, description="At most this many, newest first")


class AlertsResponse(Response):
    """Alerts, newest first."""

    alerts: list[dict[str, Any]]


class ReloadRequest(Request):
    """Reload the champions and the latest snapshot (no options)."""


class ModelInfo(Response):
    """The champions in service and the snapshot."""

    models: list[dict[str, Any]]
    snapshot: dict[str, Any]


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "text must not contain NUL characters")
    return text


Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
"""A note: up to 2,000 characters, no NUL (PostgreSQL cannot store one)."""
Said = Annotated[str, StringConstraints(min_length=1, max_length=2000),
                 AfterValidator(_no_nul)]
"""A reason or resolution: 1 to 2,000 characters, no NUL."""
MAX_ROW_ID = 2**31 - 1
"""Largest id of a store row (a 32-bit integer in every database)."""


class ContactRequest(Request):
    """A call, e-mail or letter to a customer, and what came of it."""

    customer_id: Id
    channel: Literal["call", "email", "letter"]
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=200),
                       AfterValidator(_no_nul)] = Field(
        description="What came of it, e.g. 'reached, will pay Friday'")
    note: Text | None = None


class PromiseRequest(Request):
    """A promise to pay, as in the ledger's promises table."""

    customer_id: Id
    promised_date: Day = Field(description="YYYY-MM-DD, today or later")
    amount: float = Field(gt=0, le=1e13, description="In the customer's currency, > 0")
    invoice_ids: list[Id] | None = Field(
        None, max_length=1000, description="Open invoices of the customer it covers; absent: "
                                           "their balance")
    note: Text | None = None


class OpenDisputeRequest(Request):
    """A dispute on an open invoice."""

    invoice_id: Id
    reason: Said


class ResolveDisputeRequest(Request):
    """The resolution of an open dispute, named by its id or its invoice (one of them)."""

    dispute_id: int | None = Field(None, ge=1, le=MAX_ROW_ID)
    invoice_id: Id | None = None
    resolution: Said


class NoteRequest(Request):
    """A note on a customer, or on one of their open invoices."""

    customer_id: Id
    note: Said
    invoice_id: Id | None = None


class ActionRecord(Response):
    """An action as the store recorded it: who, when, what."""

    id: int
    at: dt.datetime
    user: str
    kind: str = Field(description="contact, promise, dispute_opened, dispute_resolved, note")
    customer_id: str
    invoice_id: str | None = None
    channel: str | None = None
    outcome: str | None = None
    note: str | None = None
    promise_id: int | None = None
    dispute_id: int | None = None
    promised_date: dt.date | None = None
    amount: float | None = None
    invoice_ids: list[str] | None = None
    reason: str | None = None
    resolution: str | None = None
