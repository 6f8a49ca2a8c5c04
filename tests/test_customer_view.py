"""The single view of a customer: its ledger as of a date (the tiny hand-made ledger, whose
every figure is worked out by hand below), its history over stored snapshots, and what the
workflow store holds of it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from ledger import load_ledger
from serving.workflow import audit, customer_view
from serving.workflow.db import open_store
from serving.workflow.tables import Activity, Owner, Promise, User
from tests.conftest import tiny_ledger_frames, write_frames
from training.delinquency import SERIOUS_MODEL_NAME


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    loaded = load_ledger(write_frames(tiny_ledger_frames(),
                                      tmp_path_factory.mktemp("tiny") / "ledger"))
    yield loaded
    loaded.close()


def by_id(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def test_every_invoice_with_its_state_as_of_a_date(ledger) -> None:  # noqa: ANN001
    view = customer_view.ledger_view(ledger, "C2", dt.date(2024, 3, 16))
    assert view["customer"]["name"] == "Beta Inc" and view["customer"]["currency"] == "USD"
    invoices = by_id(view["invoices"], "invoice_id")
    assert list(invoices) == ["I4", "I3"]  # newest first
    i3 = invoices["I3"]  # 2,000 less 1,000 paid on 03-01 and a 100 credit note on 03-10
    assert (i3["paid"], i3["credited"], i3["open_amount"], i3["status"]) == (
        1000.0, 100.0, 900.0, "open")
    assert i3["days_past_due"] == 11 and i3["promised"] == "broken"
    assert invoices["I4"]["days_past_due"] == 0 and invoices["I4"]["promised"] is None
    # the promise of 900 by 03-15 saw no payment from 03-08 to 03-15: broken
    [promise] = view["promises"]
    assert (promise["promise_id"], promise["status"], promise["amount"]) == ("R1", "broken",
                                                                             900.0)
    assert [p["payment_id"] for p in view["payments"]] == ["P2"]  # P3 is dated 03-20
    assert [c["credit_note_id"] for c in view["credit_notes"]] == ["N1"]


def test_facts_dated_on_or_after_the_date_are_left_out(ledger) -> None:  # noqa: ANN001
    before = customer_view.ledger_view(ledger, "C2", dt.date(2024, 3, 12))
    assert before["promises"][0]["status"] == "pending"  # promised for 03-15
    assert by_id(before["invoices"], "invoice_id")["I3"]["promised"] == "pending"
    on_the_day = customer_view.ledger_view(ledger, "C2", dt.date(2024, 3, 1))
    assert list(by_id(on_the_day["invoices"], "invoice_id")) == ["I3"]  # I4 issued 03-01
    assert on_the_day["payments"] == [] and on_the_day["promises"] == []  # P2 paid 03-01
    after = customer_view.ledger_view(ledger, "C2", dt.date(2024, 3, 21))
    i3 = by_id(after["invoices"], "invoice_id")["I3"]
    assert (i3["status"], i3["open_amount"], i3["settled_date"]) == ("paid", 0.0,
                                                                    "2024-03-20")
    assert after["promises"][0]["status"] == "broken"  # settled after the promised date


def test_disputes_open_and_resolved(ledger) -> None:  # noqa: ANN001
    view = customer_view.ledger_view(ledger, "C1", dt.date(2024, 3, 1))
    [dispute] = view["disputes"]
    assert (dispute["dispute_id"], dispute["status"]) == ("D1", "open")
    invoices = by_id(view["invoices"], "invoice_id")
    assert invoices["I2"]["disputed"] and not invoices["I1"]["disputed"]
    assert invoices["I1"]["status"] == "paid"
    early = customer_view.ledger_view(ledger, "C1", dt.date(2024, 2, 20))
    assert early["disputes"] == []  # opened on 02-20: not yet known


def test_an_unknown_customer_has_an_empty_view(ledger) -> None:  # noqa: ANN001
    for customer in ("NOPE", "x' OR '1'='1"):
        view = customer_view.ledger_view(ledger, customer, dt.date(2024, 3, 1))
        assert view["customer"] is None and view["invoices"] == []


def test_scores_and_predicted_payment_dates_join_the_open_invoices() -> None:
    invoices = [{"invoice_id": "I3"}, {"invoice_id": "I1"}]
    customer_view.with_scores(invoices, [{"invoice_id": "I3", "p_late": 0.4, "as_of": "x",
                                          "pay_date_p50": "2024-04-01"}])
    assert invoices == [{"invoice_id": "I3", "p_late": 0.4, "pay_date_p50": "2024-04-01"},
                        {"invoice_id": "I1"}]


def _snapshot(root: Path, day: str, grade: str, version: str) -> None:
    folder = root / day
    folder.mkdir(parents=True)
    pd.DataFrame({"customer_id": ["C1", "C2"], "grade": [grade, "A"],
                  "probability": [0.1, 0.01], "current_limit_local": [10_000.0, 5.0],
                  "recommended_limit_local": [8_000.0, 5.0], "currency": ["EUR", "USD"],
                  "review_flag": [True, False]}).to_parquet(folder / "limits.parquet")
    (folder / "manifest.json").write_text(json.dumps(
        {"as_of": day, "models": {SERIOUS_MODEL_NAME: version}}))


def test_grade_and_limit_history_over_the_snapshots(tmp_path: Path) -> None:
    _snapshot(tmp_path, "2024-03-01", "D", "4")
    _snapshot(tmp_path, "2024-02-01", "B", "3")
    history = customer_view.limit_history(tmp_path, "C1")
    assert [(h["as_of"], h["grade"], h["model_version"]) for h in history] == [
        ("2024-02-01", "B", "3"), ("2024-03-01", "D", "4")]
    assert history[0]["recommended_limit_local"] == 8_000.0
    assert customer_view.limit_history(tmp_path, "NOPE") == []
    assert customer_view.limit_history(tmp_path / "absent", "C1") == []


def test_the_store_view_has_owner_activity_promises_and_audit(db_url: str) -> None:
    store = open_store(db_url)
    with store.begin() as session:
        ann = User(name="ann", role="collector")
        promise = Promise(customer_id="C2", promised_date=dt.date(2024, 4, 1), amount=900.0,
                          author=ann)
        session.add_all([ann, Owner(customer_id="C2", user=ann), promise])
        session.flush()
        session.add(Activity(user=ann, customer_id="C2", kind="promise", promise_id=promise.id,
                             note="will pay in April"))
        audit.record(session, user="ann", role="collector", action="log_promise",
                     subject="C2", details={"amount": 900.0})
    with store.begin() as session:
        view = customer_view.store_view(session, "C2")
        assert view["owner"] == "ann"
        assert [(a["user"], a["kind"], a["note"]) for a in view["activity"]] == [
            ("ann", "promise", "will pay in April")]
        assert [(p["amount"], p["created_by"]) for p in view["logged_promises"]] == [
            (900.0, "ann")]
        assert [e["action"] for e in view["audit"]] == ["log_promise"]
        assert customer_view.store_view(session, "C1") == {
            "owner": None, "activity": [], "logged_promises": [], "decisions": [],
            "audit": []}
