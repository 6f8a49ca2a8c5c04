"""The collectors' actions through the real server (issue 16 acceptance), on SQLite and on a
real PostgreSQL: a collector's key logs a promise for a customer on their worklist and the
worklist holds them at once, without rescoring; bad input is refused naming the field with
nothing written; all of it survives a restart.

One server per backend for the module (plus one restart); the champions and the snapshot are
the session's (`api_workdir`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.worklist import HELD_DISPUTE, HELD_PROMISE
from serving.workflow import users
from serving.workflow.db import open_store
from tests.pg import BACKENDS, fresh_database_url
from tests.test_workflow_credit_api import Served

pytestmark = pytest.mark.slow  # the session's champions (about a minute), two servers a backend
TABLES = ("activities", "promises", "promise_invoices", "disputes", "audit_log")
PROMISED = (dt.date.today() + dt.timedelta(days=7)).isoformat()


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, api_workdir: tuple[Path, Path],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`o2c serve` over the session's snapshot with a fresh store on the backend: collectors
    cole and dana, credit manager mia (keys as `o2c users add` makes them)."""
    ledger, work = api_workdir
    folder = tmp_path_factory.mktemp(f"actions-{request.param}")
    url = fresh_database_url(request.param, request, folder)
    store = open_store(url)
    keys = {name: {"Authorization": f"Bearer {users.add_user(store, name, role)}"}
            for name, role in (("cole", "collector"), ("dana", "collector"),
                               ("mia", "credit_manager"))}
    served = Served(work, ledger, {"O2C_DATABASE_URL": url, "O2C_WORKDIR": str(work)}, store,
                    keys)
    served.start(folder / "server.log")
    yield served
    served.running.close()
    store.engine.dispose()


@pytest.fixture(scope="module")
def promised(served: Served) -> dict:
    """Cole's promise for the first customer of his worklist not held: the row before it and
    what the server recorded."""
    rows = served.post("/worklist", {}, "cole").json()["worklist"]
    assert rows and {row["collector"] for row in rows} == {"cole"}
    row = next(r for r in rows if not r["held"])
    response = served.post("/log_promise", {
        "customer_id": row["customer_id"], "promised_date": PROMISED, "amount": 1500.0,
        "note": "paying next week"}, "cole")
    assert response.status_code == 200, response.text
    return {"row": row, "recorded": response.json()}


def held(served: Served, customer: str, who: str = "cole") -> dict:
    rows = served.post("/worklist", {}, who).json()["worklist"]
    return next(r for r in rows if r["customer_id"] == customer)


def test_a_promise_holds_the_customer_at_once_without_rescoring(served: Served,
                                                                promised: dict) -> None:
    recorded = promised["recorded"]
    assert (recorded["user"], recorded["kind"], recorded["promised_date"]) == (
        "cole", "promise", PROMISED)
    before = served.post("/worklist", {"collector": "cole"}, "mia").json()["worklist"]
    row = held(served, promised["row"]["customer_id"])
    assert row["held"] and row["action"] == "hold" and row["held_reason"] == HELD_PROMISE
    assert row["reasons"][0].startswith("promise to pay 1,500.00 by " + PROMISED)
    assert "logged by cole" in row["reasons"][0]
    assert row["rank"] > promised["row"]["rank"] and row == next(
        r for r in before if r["customer_id"] == row["customer_id"])  # the manager's view
    assert served.post("/worklist", {"include_held": False}, "cole").json()["worklist"][0][
        "customer_id"] != row["customer_id"]


def test_collectors_see_their_own_customers_and_managers_filter(served: Served,
                                                               promised: dict) -> None:
    dana = served.post("/worklist", {}, "dana").json()["worklist"]
    assert dana and {r["collector"] for r in dana} == {"dana"}
    assert promised["row"]["customer_id"] not in {r["customer_id"] for r in dana}
    other = served.post("/worklist", {"collector": "cole"}, "dana")
    assert other.status_code == 403 and other.json()["field"] == "collector"
    every = served.post("/worklist", {}, "mia").json()["worklist"]
    assert len(every) >= len(dana) + 1 and {r["collector"] for r in every} == {"cole", "dana"}
    unknown = served.post("/worklist", {"collector": "nobody"}, "mia")
    assert unknown.status_code == 400 and unknown.json()["field"] == "collector"


def test_disputes_hold_until_resolved_contacts_and_notes(served: Served,
                                                        promised: dict) -> None:
    row = next(r for r in served.post("/worklist", {}, "dana").json()["worklist"]
               if not r["held"] and r["overdue_invoice_count"] > 0)
    customer = row["customer_id"]
    profile = served.post("/customer", {"customer_id": customer}, "dana").json()
    overdue = [i["invoice_id"] for i in profile["open_invoices"] if i["days_past_due"] > 0]
    assert len(overdue) == row["overdue_invoice_count"]
    opened = [served.post("/open_dispute", {"invoice_id": invoice, "reason": "short delivery"},
                          "dana") for invoice in overdue]
    assert [r.status_code for r in opened] == [200] * len(overdue), opened[0].text
    assert held(served, customer, "dana")["held_reason"] == HELD_DISPUTE
    resolved = served.post("/resolve_dispute", {"invoice_id": overdue[0],
                                                "resolution": "credit note"}, "dana")
    assert resolved.status_code == 200 and resolved.json()["user"] == "dana"
    assert not held(served, customer, "dana")["held"]
    contact = served.post("/log_contact", {"customer_id": customer, "channel": "call",
                                           "outcome": "voicemail"}, "dana")
    note = served.post("/add_note", {"customer_id": customer, "note": "new buyer"}, "mia")
    assert (contact.status_code, note.status_code) == (200, 200)
    assert (contact.json()["user"], note.json()["user"]) == ("dana", "mia")


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/log_promise", {"customer_id": "NO-SUCH", "promised_date": PROMISED, "amount": 5.0},
     404, "customer_id"),
    ("/log_promise", {"promised_date": "2020-01-01", "amount": 5.0}, 400, "promised_date"),
    ("/log_promise", {"promised_date": PROMISED, "amount": -5.0}, 400, "amount"),
    ("/log_promise", {"promised_date": PROMISED, "amount": 5.0, "invoice_ids": ["NO-SUCH"]},
     404, "invoice_ids[0]"),
    ("/open_dispute", {"invoice_id": "NO-SUCH", "reason": "why"}, 404, "invoice_id"),
    ("/open_dispute", {"reason": ""}, 400, "reason"),
    ("/resolve_dispute", {"dispute_id": 999999, "resolution": "done"}, 404, "dispute_id"),
    ("/log_contact", {"channel": "fax", "outcome": "sent"}, 400, "channel"),
    ("/add_note", {"note": "a\x00b"}, 400, "note"),  # PostgreSQL cannot store a NUL
    ("/resolve_dispute", {"dispute_id": 2**70, "resolution": "done"}, 400, "dispute_id"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
        served: Served, promised: dict, path: str, body: dict, status: int,
        field: str) -> None:
    row = promised["row"]
    defaults = {"customer_id": row["customer_id"], "invoice_id": row["invoices"][0]}
    model = {"/log_promise": ("customer_id",), "/open_dispute": ("invoice_id",),
             "/log_contact": ("customer_id",), "/add_note": ("customer_id",)}.get(path, ())
    counts = {table: served.count(table) for table in TABLES}
    response = served.post(path, {**{k: defaults[k] for k in model}, **body}, "cole")
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert {table: served.count(table) for table in TABLES} == counts


def test_actions_and_holds_survive_a_restart(served: Served, promised: dict,
                                             tmp_path: Path) -> None:
    customer = promised["row"]["customer_id"]
    before = held(served, customer)
    activities = served.count("activities")
    served.start(tmp_path / "restarted.log")
    assert held(served, customer) == before
    assert served.count("activities") == activities
    again = served.post("/log_contact", {"customer_id": customer, "channel": "email",
                                         "outcome": "sent a reminder"}, "cole")
    assert again.status_code == 200 and again.json()["user"] == "cole"
