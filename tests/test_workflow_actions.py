"""The collectors' actions in the workflow store, the worklist they change at once, and
portfolio ownership; on SQLite and on a real PostgreSQL (`db_url`).

The portfolio is made by hand (three customers, `build_worklist` as `o2c score` calls it), so
each expectation is worked out from the hold rules themselves.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from models.worklist import HELD_DISPUTE, HELD_PROMISE, WorklistConfig, build_worklist
from serving.portfolio import Portfolio
from serving.scoring import records
from serving.workflow import actions, users
from serving.workflow.actions import Book
from serving.workflow.config import WorkflowConfig
from serving.workflow.db import Store, open_store
from serving.workflow.errors import WorkflowError
from serving.workflow.overlay import open_actions, overlay_worklist
from serving.workflow.ownership import assign_new, owners, reassign

AS_OF = dt.date(2026, 3, 1)
TODAY = dt.date(2026, 3, 2)
CONFIG = WorklistConfig(reporting_currency="EUR")
ALICE = users.Actor("alice", "collector")
ADMIN = users.Actor("env:admin", "admin")
INVOICES = [  # customer, invoice, amount, days past due, p_unpaid_30d
    ("A", "A1", 5000.0, 40, 0.5), ("A", "A2", 2000.0, 10, 0.4),
    ("B", "B1", 8000.0, 20, 0.3),
    ("C", "C1", 1000.0, 5, 0.6),
]


def portfolio() -> Portfolio:
    """Three customers, every invoice overdue, none held by the ledger."""
    scores = pd.DataFrame(INVOICES, columns=["customer_id", "invoice_id", "open_amount",
                                             "days_past_due", "p_unpaid_30d"]).assign(
        currency="EUR", has_open_dispute=False, has_active_promise=False,
        has_broken_promise=False, issue_date=pd.Timestamp("2026-01-01"))
    scores["open_amount_base"] = scores["open_amount"]
    scores["reasons"] = [["paid late before"]] * len(scores)
    worklist = build_worklist(scores, config=CONFIG,
                              reasons=[{"raises": [{"text": "paid late before"}]}] * len(scores))
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "country": ["DE", "FR", "DE"],
                              "segment": ["small", "large", "small"]})
    return Portfolio(AS_OF, scores, worklist, pd.DataFrame(), customers)


@pytest.fixture
def store(db_url: str) -> Store:
    store = open_store(db_url)
    users.add_user(store, "alice", "collector")
    yield store
    store.engine.dispose()


def count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def worklist(store: Store, today: dt.date = TODAY) -> dict[str, dict]:
    book = portfolio()
    rows = overlay_worklist(records(book.worklist), book, open_actions(store, AS_OF), CONFIG,
                            today)
    assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
    return {row["customer_id"]: row for row in rows}


def test_a_promise_holds_the_customer_at_once_with_the_promise_as_reason(store: Store) -> None:
    before = worklist(store)
    assert not any(row["held"] for row in before.values())
    book = Book.of(portfolio())
    logged = actions.log_promise(store, ALICE, book, customer_id="B", amount=8000.0,
                                 promised_date=dt.date(2026, 3, 10), note="paying Tuesday",
                                 today=TODAY)
    assert (logged["user"], logged["kind"], logged["invoice_ids"]) == ("alice", "promise", [])
    after = worklist(store)
    held = after["B"]
    assert held["held"] and held["held_reason"] == HELD_PROMISE and held["action"] == "hold"
    assert held["reasons"][0].startswith("promise to pay 8,000.00 by 2026-03-10")
    assert "logged by alice" in held["reasons"][0]
    assert held["rank"] == len(after)  # held customers follow every other one
    others = sorted((c for c in after if c != "B"), key=lambda c: after[c]["rank"])
    assert others == sorted((c for c in before if c != "B"), key=lambda c: before[c]["rank"])
    assert count(store, "audit_log") == 1 and count(store, "activities") == 1


def test_a_promise_on_some_invoices_holds_only_when_it_covers_every_overdue_one(
        store: Store) -> None:
    book = Book.of(portfolio())
    actions.log_promise(store, ALICE, book, customer_id="A", amount=1000.0,
                        promised_date=TODAY, invoice_ids=["A2"], today=TODAY)
    assert not worklist(store)["A"]["held"]
    actions.log_promise(store, ALICE, book, customer_id="A", amount=5000.0,
                        promised_date=TODAY, invoice_ids=["A1"], today=TODAY)
    assert worklist(store)["A"]["held_reason"] == HELD_PROMISE


def test_a_promise_past_its_date_is_broken_and_brings_the_customer_up(store: Store) -> None:
    book = Book.of(portfolio())
    before = worklist(store)["C"]
    actions.log_promise(store, ALICE, book, customer_id="C", amount=1000.0,
                        promised_date=dt.date(2026, 3, 5), today=TODAY)
    assert worklist(store, dt.date(2026, 3, 5))["C"]["held"]  # due today: still held
    broken = worklist(store, dt.date(2026, 3, 6))["C"]
    assert not broken["held"] and broken["broken_promise"]
    assert broken["action"] == "escalate"  # a broken promise on an overdue balance
    assert "broken promise to pay" in broken["reasons"]
    assert any(r.startswith("promise to pay 1,000.00 by 2026-03-05 broken")
               for r in broken["reasons"])
    assert broken["priority"] == pytest.approx(before["priority"]
                                               * (1 + CONFIG.broken_promise_boost))


def test_a_dispute_holds_until_resolved(store: Store) -> None:
    book = Book.of(portfolio())
    opened = actions.open_dispute(store, ALICE, book, invoice_id="B1", reason="wrong price")
    assert worklist(store)["B"]["held_reason"] == HELD_DISPUTE
    with pytest.raises(WorkflowError) as again:
        actions.open_dispute(store, ALICE, book, invoice_id="B1", reason="still wrong")
    assert (again.value.status, again.value.field) == (409, "invoice_id")
    resolved = actions.resolve_dispute(store, ALICE, dispute_id=opened["dispute_id"],
                                       resolution="credit note issued")
    assert resolved["invoice_id"] == "B1" and not worklist(store)["B"]["held"]
    with pytest.raises(WorkflowError) as closed:
        actions.resolve_dispute(store, ALICE, invoice_id="B1", resolution="twice")
    assert closed.value.status == 404


def test_contacts_and_notes_record_who_and_when(store: Store) -> None:
    book = Book.of(portfolio())
    contact = actions.log_contact(store, ALICE, book, customer_id="A", channel="call",
                                  outcome="reached the buyer", note="call back Friday")
    note = actions.add_note(store, ADMIN, book, customer_id="A", note="VIP", invoice_id="A1")
    assert (contact["user"], contact["channel"], note["user"]) == ("alice", "call", "env:admin")
    assert dt.datetime.fromisoformat(contact["at"]).tzinfo is not None
    with store.engine.connect() as connection:
        audited = connection.execute(text("SELECT user_name, action, subject FROM audit_log "
                                          "ORDER BY id")).all()
    assert [tuple(row) for row in audited] == [("alice", "log_contact", "A"),
                                               ("env:admin", "add_note", "A")]


BAD_INPUT = [  # (the call, the field it must name, the status)
    (lambda s, b: actions.log_promise(s, ALICE, b, customer_id="Z", amount=1.0,
                                      promised_date=TODAY, today=TODAY), "customer_id", 404),
    (lambda s, b: actions.log_promise(s, ALICE, b, customer_id="A", amount=1.0,
                                      promised_date=AS_OF, today=TODAY), "promised_date", 400),
    (lambda s, b: actions.log_promise(s, ALICE, b, customer_id="A", amount=-5.0,
                                      promised_date=TODAY, today=TODAY), "amount", 400),
    (lambda s, b: actions.log_promise(s, ALICE, b, customer_id="A", amount=5.0,
                                      promised_date=TODAY, invoice_ids=["A1", "B1"],
                                      today=TODAY), "invoice_ids[1]", 400),
    (lambda s, b: actions.open_dispute(s, ALICE, b, invoice_id="A1", reason="  "), "reason",
     400),
    (lambda s, b: actions.open_dispute(s, ALICE, b, invoice_id="X9", reason="why"),
     "invoice_id", 404),
    (lambda s, b: actions.log_contact(s, ALICE, b, customer_id="A", channel="fax",
                                      outcome="sent"), "channel", 400),
    (lambda s, b: actions.add_note(s, users.Actor("mallory", "collector"), b,
                                   customer_id="A", note="hi"), "user", 404),
]


def test_bad_input_names_the_field_and_writes_nothing(store: Store) -> None:
    book = Book.of(portfolio())
    for number, (call, field, status) in enumerate(BAD_INPUT):
        with pytest.raises(WorkflowError) as refused:
            call(store, book)
        assert (refused.value.field, refused.value.status) == (field, status), number
        for table in ("activities", "promises", "promise_invoices", "disputes", "audit_log"):
            assert count(store, table) == 0, (number, table)


def test_owners_are_given_by_rule_on_first_sight_and_kept_until_reassigned(
        store: Store) -> None:
    users.add_user(store, "bob", "collector")
    customers = portfolio().customers
    balanced = assign_new(store, ["A", "B", "C"], customers, WorkflowConfig())
    assert balanced == {"A": "alice", "B": "bob", "C": "alice"}
    by_segment = WorkflowConfig(assign_by="segment", assign_rules={"large": "alice"})
    assert assign_new(store, ["A", "B", "C"], customers, by_segment) == balanced  # kept
    moved = reassign(store, ADMIN, Book.of(portfolio()), customer_id="A", to="bob")
    assert (moved["from"], moved["to"], moved["user"]) == ("alice", "bob", "env:admin")
    assert owners(store)["A"] == "bob"
    with pytest.raises(WorkflowError) as not_collector:
        reassign(store, ADMIN, Book.of(portfolio()), customer_id="A", to="env:admin")
    assert not_collector.value.field == "to"


def test_a_segment_rule_assigns_new_customers(db_url: str) -> None:
    store = open_store(db_url)
    for name in ("alice", "bob"):
        users.add_user(store, name, "collector")
    rule = WorkflowConfig(assign_by="segment", assign_rules={"small": "bob"})
    assert assign_new(store, ["A", "B", "C"], portfolio().customers, rule) == {
        "A": "bob", "B": "alice", "C": "bob"}
    store.engine.dispose()
