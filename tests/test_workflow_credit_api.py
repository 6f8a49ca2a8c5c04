"""Credit decisions, alerts and the single customer view through the real server, on SQLite
and on a real PostgreSQL: `o2c serve` on a free loopback port with store users' keys.

One server per backend for the module (plus one restart); the champions and the snapshot are
the session's (`api_workdir`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from o2c.cli import app
from serving.local import running_server
from serving.workflow import users
from serving.workflow.db import Store, open_store
from serving.workflow.tables import Owner, Promise, PromiseInvoice, User
from tests.conftest import API_AS_OF
from tests.pg import BACKENDS, fresh_database_url
from training.delinquency import SERIOUS_MODEL_NAME

pytestmark = pytest.mark.slow  # the session's champions (about a minute), two servers a backend
runner = CliRunner()


@dataclass
class Served:
    """A running server over the session's work folder and this backend's store."""

    work: Path
    ledger: Path
    env: dict[str, str]
    store: Store
    keys: dict[str, dict[str, str]]
    """User name or role -> Authorization header of that store user."""
    url: str = ""
    running: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start(self, log: Path) -> None:
        """Stop the server if one runs, then start one."""
        self.running.close()
        try:
            self.url = self.running.enter_context(
                running_server(self.work, {}, log=log, env=self.env))
        except RuntimeError as exc:  # exited or never ready: the log says why
            pytest.fail(str(exc))

    def post(self, path: str, body: dict, role: str) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.keys[role], timeout=60)

    def count(self, table: str) -> int:
        with self.store.engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def serve_with_users(request: pytest.FixtureRequest, api_workdir: tuple[Path, Path],
                     folder: Path, people: dict[str, str], *,
                     ledger_env: bool = True) -> Served:
    """`o2c serve` over the session's snapshot with a fresh store on the backend
    `request.param` and these users (name -> role); `keys` by name and by role (the last
    user of each role). The caller closes `running` and disposes of the store's engine."""
    ledger, work = api_workdir
    url = fresh_database_url(request.param, request, folder)
    store = open_store(url)
    keys = {}
    for name, role in people.items():
        keys[name] = keys[role] = {"Authorization": f"Bearer {users.add_user(store, name, role)}"}
    env = {"O2C_DATABASE_URL": url, "O2C_WORKDIR": str(work),
           **({"O2C_LEDGER": str(ledger)} if ledger_env else {})}
    served = Served(work, ledger, env, store, keys)
    served.start(folder / "server.log")
    return served


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, api_workdir: tuple[Path, Path],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`o2c serve` over the session's snapshot with a fresh store on the backend; users ann
    (collector), carol (credit manager) and root (admin)."""
    served = serve_with_users(request, api_workdir,
                              tmp_path_factory.mktemp(f"credit-{request.param}"),
                              {"ann": "collector", "carol": "credit_manager", "root": "admin"})
    yield served
    served.running.close()
    served.store.engine.dispose()


@pytest.fixture(scope="module")
def flagged(served: Served) -> dict:
    """The first customer of the review queue (the manager's view)."""
    response = served.post("/review_queue", {}, "credit_manager")
    assert response.status_code == 200, response.text
    queue = response.json()["queue"]
    assert queue, "the snapshot flags no customer for review"
    return queue[0]


def test_a_collector_may_not_decide_limits_nor_see_the_queue(served: Served,
                                                            flagged: dict) -> None:
    body = {"customer_id": flagged["customer_id"], "decision": "accept"}
    for path, request in (("/decide_limit", body), ("/review_queue", {})):
        response = served.post(path, request, "collector")
        assert response.status_code == 403, response.text
        assert response.json()["field"] == "Authorization"
    assert served.count("limit_decisions") == 0


def test_review_queue_is_ranked_and_filtered(served: Served, flagged: dict) -> None:
    queue = served.post("/review_queue", {}, "credit_manager").json()["queue"]
    ranked = "review_rank" in queue[0]  # the policy's rank (snapshots since issue 14)
    keys = [row["review_rank"] if ranked else -row["expected_loss"] for row in queue]
    assert keys == sorted(keys) and [r["rank"] for r in queue][:3] == [1, 2, 3]
    assert all(row["review_flag"] for row in queue)
    grade = flagged["grade"]
    only = served.post("/review_queue", {"grades": [grade], "top_k": 5},
                       "credit_manager").json()["queue"]
    assert only and len(only) <= 5 and {row["grade"] for row in only} == {grade}
    bad = served.post("/review_queue", {"grades": ["Z"]}, "credit_manager")
    assert bad.status_code == 400 and "grades" in bad.text


@pytest.mark.parametrize(("changes", "status", "field"), [
    ({"customer_id": "NO-SUCH-CUSTOMER"}, 404, "customer_id"),
    ({"reason": None}, 400, "reason"),
    ({"limit": -5.0}, 400, "limit"),
    ({"limit": None}, 400, "limit"),
    ({"decision": "raise"}, 400, "decision"),
])
def test_bad_decisions_name_the_field_and_write_nothing(
        served: Served, flagged: dict, changes: dict, status: int, field: str) -> None:
    body = {"customer_id": flagged["customer_id"], "decision": "override", "limit": 1000.0,
            "reason": "collateral", **changes}
    response = served.post("/decide_limit", {k: v for k, v in body.items() if v is not None},
                           "credit_manager")
    assert response.status_code == status, response.text
    assert field in (response.json().get("field") or response.text)
    assert served.count("limit_decisions") == 0 and served.count("audit_log") == 0


def test_an_override_is_effective_exported_and_audited_with_the_model_version(
        served: Served, flagged: dict, tmp_path: Path) -> None:
    customer = flagged["customer_id"]
    response = served.post("/decide_limit", {
        "customer_id": customer, "decision": "override", "limit": 12_345.0,
        "reason": "=cmd|' /C calc'!A0 bank guarantee"}, "credit_manager")
    assert response.status_code == 200, response.text
    decided = response.json()["decision"]
    assert (decided["decided_by"], decided["limit"]) == ("carol", 12_345.0)
    [row] = served.post("/credit_limits", {"customer_ids": [customer]},
                        "credit_manager").json()["limits"]
    assert (row["effective_limit"], row["decision"], row["decided_by"]) == (
        12_345.0, "override", "carol")
    assert row["recommended_limit_local"] == flagged["recommended_limit_local"]
    assert customer not in [r["customer_id"] for r in served.post(
        "/review_queue", {}, "credit_manager").json()["queue"]]  # decided on this snapshot

    out = tmp_path / "limits.csv"
    result = runner.invoke(app, ["limits", "export", "--out", str(out)], env=served.env)
    assert result.exit_code == 0, result.output
    [exported] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (exported["customer_id"], float(exported["limit"]), exported["decided_by"]) == (
        customer, 12_345.0, "carol")
    assert exported["currency"] == flagged["currency"] and exported["decided_at"]

    view = served.post("/customer", {"customer_id": customer}, "collector").json()
    [entry] = view["audit"]
    assert (entry["user"], entry["role"], entry["action"]) == ("carol", "credit_manager",
                                                               "decide_limit")
    assert entry["details"]["model"]["name"] == SERIOUS_MODEL_NAME
    assert entry["details"]["model"]["version"] == _serious_version(served)
    assert entry["details"]["reasons_shown"] == flagged["reasons"]
    assert entry["details"]["reason"].startswith("=cmd")  # kept as typed; escaped in CSVs
    assert view["decisions"][0]["limit"] == 12_345.0


def _serious_version(served: Served) -> str:
    info = httpx.get(f"{served.url}/model_info", headers=served.keys["collector"]).json()
    return info["snapshot"]["models"][SERIOUS_MODEL_NAME]


def test_the_customer_view_has_the_ledger_history_and_scores(served: Served,
                                                             flagged: dict) -> None:
    view = served.post("/customer", {"customer_id": flagged["customer_id"]}, "collector")
    assert view.status_code == 200, view.text
    view = view.json()
    assert view["name"] and view["customer"]["customer_id"] == flagged["customer_id"]
    assert view["limit"]["customer_id"] == flagged["customer_id"]  # the fields it had
    statuses = {invoice["status"] for invoice in view["invoices"]}
    assert statuses == {"open", "paid"}
    open_ids = {i["invoice_id"] for i in view["open_invoices"]}
    for invoice in view["invoices"]:
        assert invoice["issue_date"] < view["as_of"]
        if invoice["invoice_id"] in open_ids:
            assert invoice["status"] == "open" and "p_late" in invoice
    paid = {p["invoice_id"] for p in view["payments"]}
    assert paid and paid <= {i["invoice_id"] for i in view["invoices"]}
    assert {p["status"] for p in view["promises"]} <= {"kept", "broken", "pending"}
    [now] = [h for h in view["history"] if h["as_of"] == view["as_of"]]
    assert now["grade"] == flagged["grade"] and now["model_version"]
    unknown = served.post("/customer", {"customer_id": "NO-SUCH"}, "collector")
    assert unknown.status_code == 404 and unknown.json()["field"] == "customer_id"


def test_alerts_for_admins_and_owners(served: Served) -> None:
    every = served.post("/alerts", {}, "admin")
    assert every.status_code == 200, every.text
    alerts = every.json()["alerts"]
    assert alerts and {a["kind"] for a in alerts} <= {"grade_drop", "utilization",
                                                      "broken_promise", "overdue",
                                                      "monitoring"}
    assert any(a["kind"] == "overdue" for a in alerts)  # the ledger has 90+ dpd invoices
    overdue = served.post("/alerts", {"kinds": ["overdue"], "limit": 3}, "admin").json()
    assert len(overdue["alerts"]) == 3 and {a["kind"] for a in overdue["alerts"]} == {
        "overdue"}
    mine = served.post("/alerts", {}, "collector").json()["alerts"]
    assert all(a["owner"] == "ann" for a in mine)


def test_a_promise_logged_in_the_store_and_broken_since_alerts_its_owner(
        served: Served) -> None:
    snapshot = served.work / "snapshots" / API_AS_OF
    worklist = pd.read_parquet(snapshot / "worklist.parquet")
    invoices = pd.read_parquet(snapshot / "invoice_scores.parquet")
    calm = set(worklist.loc[~worklist["broken_promise"], "customer_id"])
    invoice = invoices[invoices["customer_id"].isin(calm)].iloc[0]
    customer = invoice["customer_id"]
    with served.store.begin() as session:  # promised for a day after the snapshot, long past
        ann = session.scalars(select(User).where(User.name == "ann")).one()
        session.add_all([Owner(customer_id=customer, user=ann), Promise(
            customer_id=customer, promised_date=dt.date(2026, 3, 5), amount=100.0, author=ann,
            invoices=[PromiseInvoice(invoice_id=invoice["invoice_id"])])])
    mine = served.post("/alerts", {"kinds": ["broken_promise"]}, "collector").json()["alerts"]
    assert [(a["customer_id"], a["owner"]) for a in mine if "store" in a["message"]] == [
        (customer, "ann")]
    again = served.post("/alerts", {"kinds": ["broken_promise"]}, "collector").json()
    assert len(again["alerts"]) == len(mine)  # raised once


def test_decisions_and_alerts_survive_a_restart(served: Served, flagged: dict,
                                                tmp_path: Path) -> None:
    before = served.post("/alerts", {}, "admin").json()["alerts"]
    served.start(tmp_path / "restarted.log")
    [row] = served.post("/credit_limits", {"customer_ids": [flagged["customer_id"]]},
                        "credit_manager").json()["limits"]
    assert (row["effective_limit"], row["decided_by"]) == (12_345.0, "carol")
    view = served.post("/customer", {"customer_id": flagged["customer_id"]}, "collector").json()
    assert [e["action"] for e in view["audit"]] == ["decide_limit"]
    after = served.post("/alerts", {}, "admin").json()["alerts"]
    assert [a["id"] for a in after] == [a["id"] for a in before]  # none raised twice


def test_o2c_limits_decide_and_customer_on_the_command_line(served: Served,
                                                            flagged: dict) -> None:
    customer = flagged["customer_id"]
    listed = runner.invoke(app, ["limits", "queue", "--top", "3", "--include-decided",
                                 "--json"], env=served.env)
    assert listed.exit_code == 0, listed.output
    queue = json.loads(listed.stdout.strip().splitlines()[-1])["queue"]
    assert [row["rank"] for row in queue] == [1, 2, 3] and queue[0]["customer_id"] == customer
    refused = runner.invoke(app, ["limits", "decide", customer, "--accept", "--user", "ann"],
                            env=served.env)
    assert refused.exit_code == 1 and "may not decide limits" in refused.output
    no_reason = runner.invoke(app, ["limits", "decide", customer, "--override", "900",
                                    "--user", "root"], env=served.env)
    assert no_reason.exit_code == 1 and "reason" in no_reason.output
    accepted = runner.invoke(app, ["limits", "decide", customer, "--accept", "--user", "root"],
                             env=served.env)
    assert accepted.exit_code == 0, accepted.output
    shown = runner.invoke(app, ["customer", customer, "--ledger", str(served.ledger)],
                          env=served.env)
    assert shown.exit_code == 0, shown.output
    assert "Invoices" in shown.output and "Limit decisions" in shown.output
    assert "accept" in shown.output and "root" in shown.output
