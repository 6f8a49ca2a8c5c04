"""Credit decisions and the audit log in the workflow store, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from serving.workflow import audit, credit
from serving.workflow.db import Store, open_store
from serving.workflow.errors import WorkflowError
from training.delinquency import SERIOUS_MODEL_NAME

AS_OF = dt.date(2026, 3, 1)
ROW = {"customer_id": "C-1", "currency": "EUR", "recommended_limit_local": 50_000.0,
       "current_limit_local": 80_000.0, "grade": "D", "probability": 0.12,
       "review_flag": True, "reasons": ["grade D: 12.0% probability", "raises risk: late"],
       "review_reasons": ["recommended change -38%"]}


def recommendation(**changes: object) -> credit.Recommendation:
    return credit.Recommendation({**ROW, **changes}, AS_OF, SERIOUS_MODEL_NAME, "7")


@pytest.fixture
def store(db_url: str) -> Store:
    return open_store(db_url)


def count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_an_override_is_the_effective_limit_and_is_audited(store: Store) -> None:
    with store.begin() as session:
        credit.decide_limit(session, recommendation(), user="carol", role="credit_manager",
                            decision="accept")
    with store.begin() as session:
        credit.decide_limit(session, recommendation(), user="carol", role="credit_manager",
                            decision="override", limit=65_000, reason="  collateral  ")
        credit.decide_limit(session, recommendation(customer_id="C-2", currency="USD"),
                            user="dan", role="admin", decision="accept")
    with store.begin() as session:
        effective = credit.effective_limits(session)
        assert {c: (d.decision, d.limit) for c, d in effective.items()} == {
            "C-1": ("override", 65_000.0), "C-2": ("accept", 50_000.0)}
        assert effective["C-1"].reason == "collateral"
        exported = credit.export_frame(session)
        [entry, first] = audit.entries(session, subject="C-1")
    assert list(exported.columns) == list(credit.EXPORT_COLUMNS)
    assert exported[["customer_id", "currency", "limit", "decided_by"]].values.tolist() == [
        ["C-1", "EUR", 65_000.0, "carol"], ["C-2", "USD", 50_000.0, "dan"]]
    assert first.details["decision"] == "accept" and first.details["limit"] == 50_000.0
    assert entry.user_name == "carol" and entry.role == "credit_manager"
    assert entry.action == "decide_limit" and entry.at.tzinfo is not None
    assert entry.details["model"] == {"name": SERIOUS_MODEL_NAME, "version": "7"}
    assert entry.details["reasons_shown"] == ROW["reasons"]
    assert entry.details["recommendation"]["recommended_limit_local"] == 50_000.0
    assert (entry.details["decision"], entry.details["limit"], entry.details["reason"]) == (
        "override", 65_000.0, "collateral")


@pytest.mark.parametrize(("changes", "field"), [
    ({"decision": "override", "reason": "no limit given"}, "limit"),
    ({"decision": "override", "limit": 1000.0}, "reason"),
    ({"decision": "override", "limit": 1000.0, "reason": "   "}, "reason"),
    ({"decision": "override", "limit": -1.0, "reason": "negative"}, "limit"),
    ({"decision": "accept", "limit": 1000.0}, "limit"),
    ({"decision": "raise"}, "decision"),
    ({"decision": "accept", "reason": "nul \x00 byte"}, "reason"),
])
def test_a_refused_decision_names_its_field_and_writes_nothing(
        store: Store, changes: dict, field: str) -> None:
    with pytest.raises(WorkflowError) as refused, store.begin() as session:
        credit.decide_limit(session, recommendation(), user="carol", role="credit_manager",
                            **changes)
    assert refused.value.field == field and 400 <= refused.value.status < 500
    assert count(store, "limit_decisions") == 0 and count(store, "audit_log") == 0


def test_the_audit_log_refuses_changes_in_the_orm_and_in_the_database(store: Store) -> None:
    with store.begin() as session:
        audit.record(session, user="ann", role="collector", action="log_promise",
                     subject="C-1", details={"amount": 10.0})
    with pytest.raises(audit.AuditLogIsAppendOnly), store.begin() as session:
        session.scalars(select(audit.AuditEntry)).one().user_name = "mallory"
    with pytest.raises(audit.AuditLogIsAppendOnly), store.begin() as session:
        session.delete(session.scalars(select(audit.AuditEntry)).one())
    for statement in (update(audit.AuditEntry).values(user_name="mallory"),
                      delete(audit.AuditEntry)):
        with pytest.raises(audit.AuditLogIsAppendOnly), store.begin() as session:
            session.execute(statement)
    for sql in ("UPDATE audit_log SET user_name = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as raw:
            raw.execute(text(sql))
    with store.begin() as session:
        [entry] = audit.entries(session)
    assert (entry.user_name, entry.details) == ("ann", {"amount": 10.0})


def test_review_queue_ranks_flagged_customers_and_filters() -> None:
    limits = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"], "review_flag": [True, True, False, True],
        "grade": ["E", "C", "E", "D"], "probability": [0.5, 0.05, 0.9, 0.2]})
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"], "country": ["DE", "FR", "DE", "DE"],
        "segment": ["small", "large", "small", "large"],
        "open_balance_base": [1_000.0, 100_000.0, 50_000.0, 40_000.0]})
    queue = credit.review_queue(limits, customers, AS_OF, {})
    assert queue["customer_id"].tolist() == ["D", "B", "A"]  # 8,000 > 5,000 > 500; C unflagged
    assert queue["rank"].tolist() == [1, 2, 3]
    assert queue.loc[0, "expected_loss"] == pytest.approx(8_000.0)

    def ids(**filters: object) -> list[str]:
        return credit.review_queue(limits, customers, AS_OF, {},
                                   credit.QueueFilters(**filters))["customer_id"].tolist()

    assert ids(grades=("E", "D")) == ["D", "A"]
    assert ids(country="FR") == ["B"]
    assert ids(segment="large", min_exposure=50_000.0) == ["B"]
    assert ids(top_k=1) == ["D"]
    decided = credit.LimitDecision(customer_id="D", snapshot_as_of=AS_OF)
    assert credit.review_queue(limits, customers, AS_OF, {"D": decided})[
        "customer_id"].tolist() == ["B", "A"]
    assert ids(include_decided=True) == ["D", "B", "A"]
    ranked = limits.assign(review_rank=[2.0, 1.0, None, 3.0])  # the policy's order wins
    assert credit.review_queue(ranked, customers, AS_OF, {})["customer_id"].tolist() == [
        "B", "A", "D"]
