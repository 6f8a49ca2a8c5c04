"""Alerts: the rules on two snapshots, stored once per key for the customer's owner (SQLite and
PostgreSQL), and POSTed to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
from sqlalchemy import select

from serving.local import free_port
from serving.workflow import alerts
from serving.workflow.alert_rules import AlertsConfig, Snapshot, monitoring_draft, snapshot_drafts
from serving.workflow.db import open_store
from serving.workflow.tables import Owner, User

BEFORE, NOW = dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def snapshot(day: dt.date, grades: list[str], utilization: list[float], broken: list[bool],
             days_past_due: list[int]) -> Snapshot:
    ids = ["A", "B", "C"]
    return Snapshot(
        day, pd.DataFrame({"customer_id": ids, "grade": grades, "utilization": utilization}),
        pd.DataFrame({"customer_id": ids, "broken_promise": broken}),
        pd.DataFrame({"invoice_id": ["A-1", "B-1", "C-1"], "customer_id": ids,
                      "days_past_due": days_past_due, "open_amount": [10.0, 20.0, 30.0],
                      "currency": ["EUR", "EUR", "USD"]}))


PREVIOUS = snapshot(BEFORE, ["A", "B", "C"], [0.5, 1.2, 0.9], [False, True, False],
                    [10, 60, 95])
CURRENT = snapshot(NOW, ["C", "E", "C"], [1.1, 1.5, float("nan")], [True, True, False],
                   [40, 91, 120])


def kinds(drafts: list) -> set[tuple[str, str | None]]:
    return {(d.kind, d.customer_id) for d in drafts}


def test_rules_fire_on_changes_since_the_previous_snapshot() -> None:
    drafts = snapshot_drafts(CURRENT, PREVIOUS, AlertsConfig())
    assert kinds(drafts) == {
        ("grade_drop", "A"),      # A -> C: two steps; B -> E: three steps
        ("grade_drop", "B"),
        ("utilization", "A"),     # crossed 100%; B was above already, C unknown
        ("broken_promise", "A"),  # B's was broken already
        ("overdue", "B"), ("overdue", "C")}  # once per invoice: keys say which
    assert {d.key for d in drafts if d.kind == "overdue"} == {"overdue:B-1", "overdue:C-1"}
    grade = next(d for d in drafts if d.kind == "grade_drop" and d.customer_id == "B")
    assert grade.message == "grade fell 3 steps, from B to E"
    quiet = AlertsConfig(grade_drop=3, utilization_above=None, broken_promise=False,
                         overdue_days=100)
    assert kinds(snapshot_drafts(CURRENT, PREVIOUS, quiet)) == {("grade_drop", "B"),
                                                                 ("overdue", "C")}
    first = snapshot_drafts(CURRENT, None, AlertsConfig())  # nothing to compare grades with
    assert not any(d.kind == "grade_drop" for d in first)


def test_monitoring_verdicts_alert_from_the_configured_level() -> None:
    report = {"verdict": "warn", "model": {"name": "late-payment-risk", "version": "3"},
              "mlflow_run_id": "r1"}
    assert monitoring_draft(report, AlertsConfig()) is None
    draft = monitoring_draft(report, AlertsConfig(monitoring="warn"))
    assert (draft.kind, draft.key, draft.customer_id) == ("monitoring", "monitoring:r1", None)
    assert monitoring_draft({**report, "verdict": "ok"}, AlertsConfig(monitoring="warn")) is None
    assert monitoring_draft(None, AlertsConfig()) is None


def test_alerts_are_stored_once_and_shown_to_their_owner(db_url: str) -> None:
    store = open_store(db_url)
    with store.begin() as session:
        ann = User(name="ann", role="collector")
        session.add_all([ann, Owner(customer_id="A", user=ann)])
    report = monitoring_draft({"verdict": "alert", "mlflow_run_id": "r9"}, AlertsConfig())
    drafts = [*snapshot_drafts(CURRENT, PREVIOUS, AlertsConfig()), report]
    with store.begin() as session:
        owners = alerts.owners(session)
        assert owners == {"A": "ann"}
        fresh = alerts.add(session, drafts, owners=owners, as_of=NOW)
        assert len(fresh) == len(drafts) == 7
    with store.begin() as session:  # a reload of the same snapshot adds nothing
        assert alerts.add(session, drafts, owners=owners, as_of=NOW) == []
    with store.begin() as session:
        mine = alerts.alerts_for(session, user="ann", admin=False)
        assert {(a.kind, a.customer_id) for a in mine} == {
            ("grade_drop", "A"), ("utilization", "A"), ("broken_promise", "A")}
        assert all(a.owner == "ann" and a.snapshot_as_of == NOW for a in mine)
        assert alerts.alerts_for(session, user="bob", admin=False) == []
        every = alerts.alerts_for(session, user="root", admin=True, kinds=["monitoring"])
        assert [(a.kind, a.owner) for a in every] == [("monitoring", None)]
        assert len(alerts.alerts_for(session, user="root", admin=True)) == 7
    with store.begin() as session:  # A goes to bob: its alerts with it
        bob = User(name="bob", role="collector")
        session.add(bob)
        session.scalars(select(Owner).where(Owner.customer_id == "A")).one().user = bob
    with store.begin() as session:
        assert alerts.alerts_for(session, user="ann", admin=False) == []
        assert len(alerts.alerts_for(session, user="bob", admin=False)) == 3


class Receiver(BaseHTTPRequestHandler):
    """Records each POSTed JSON body in the server's `bodies`."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", free_port()), Receiver)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_new_alerts_are_posted_to_the_webhook_and_failures_only_logged(
        receiver: HTTPServer, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    with store.begin() as session:
        fresh = alerts.add(session, snapshot_drafts(CURRENT, PREVIOUS, AlertsConfig()),
                           owners={}, as_of=NOW)
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    sent = alerts.notify(fresh, AlertsConfig(webhook_url=url, webhook_timeout=5))
    sent.join(timeout=10)
    [body] = receiver.bodies
    assert sorted(a["key"] for a in body["alerts"]) == sorted(a.key for a in fresh)
    assert alerts.notify(fresh, AlertsConfig()) is None  # no webhook configured
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="serving.workflow.alerts"):
        alerts.notify(fresh, AlertsConfig(webhook_url=dead, webhook_timeout=2)).join(10)
    assert "alert webhook failed for 6 alert(s)" in caplog.text
