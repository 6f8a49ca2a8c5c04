"""The real server: `o2c serve` on a free loopback port, called over HTTP.

Models are trained once for the module on a small generated ledger; every request goes to
127.0.0.1 only, and every loop is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from o2c.cli import app
from serving.local import running_server
from serving.schemas import ScoreResponse
from tests.conftest import API_AS_OF

AS_OF = API_AS_OF
KEYS = {"collector-key-0001": "collector", "manager-key-0001": "credit_manager",
        "admin-key-0001": "admin"}
WRONG_KEY = "not-a-real-key-0001"
pytestmark = pytest.mark.slow  # the models are trained once (about a minute), then served
BY_ROLE = {role: {"Authorization": f"Bearer {key}"} for key, role in KEYS.items()}
ADMIN = BY_ROLE["admin"]
runner = CliRunner()


@dataclass
class Server:
    """A running `o2c serve`."""

    url: str
    log: Path
    workdir: Path


@pytest.fixture(scope="module")
def workdir(api_workdir: tuple[Path, Path]) -> tuple[Path, Path]:
    """A ledger and a working folder with the three champions and a snapshot as of AS_OF
    (`api_workdir` of conftest.py, shared with the other API tests)."""
    return api_workdir


@pytest.fixture(scope="module")
def server(workdir: tuple[Path, Path]) -> Iterator[Server]:
    """`o2c serve` in its own process group, until the module's tests are done."""
    _, work = workdir
    log = work.parent / "server.log"
    try:
        with running_server(work, KEYS, log=log) as url:
            yield Server(url, log, work)
    except RuntimeError as exc:  # exited or never ready: the log says why
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as session:
        yield session


@pytest.fixture(scope="module")
def customer(client: httpx.Client) -> dict:
    """A customer of the snapshot with a credit limit: its id and currency."""
    limit = client.post("/credit_limits", json={}, headers=ADMIN).json()["limits"][0]
    profile = client.post("/customer", json={"customer_id": limit["customer_id"]},
                          headers=ADMIN).json()
    currency = profile["open_invoices"][0]["currency"] if profile["open_invoices"] else None
    return {"customer_id": limit["customer_id"], "currency": currency or "EUR"}


def _invoice(customer: dict, **changes: object) -> dict:
    return {"invoice_id": "API-1", "customer_id": customer["customer_id"],
            "issue_date": "2026-02-25", "due_date": "2026-03-27", "amount": 2500.0,
            "currency": customer["currency"], **changes}


def test_health_and_metrics_need_no_key(client: httpx.Client) -> None:
    for path in ("/readyz", "/livez", "/metrics"):
        assert client.get(path).status_code == 200, path


ENDPOINTS = [("POST", "/score_invoices"), ("POST", "/worklist"), ("POST", "/customer"),
             ("GET", "/model_info"), ("GET", "/monitoring"), ("POST", "/credit_limits"),
             ("POST", "/reload")]
NEEDS = {"/credit_limits": "credit_manager", "/reload": "admin"}
ORDER = ("collector", "credit_manager", "admin")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_each_endpoint_and_role(client: httpx.Client, customer: dict, method: str,
                                path: str) -> None:
    body = {"/score_invoices": {"invoices": [_invoice(customer)]},
            "/customer": {"customer_id": customer["customer_id"]}}.get(path, {})
    send = (lambda headers: client.get(path, headers=headers)) if method == "GET" else \
        (lambda headers: client.post(path, json=body, headers=headers))
    assert send({}).status_code == 401
    assert send({"Authorization": f"Bearer {WRONG_KEY}"}).status_code == 401
    for role in ORDER:
        status = send(BY_ROLE[role]).status_code
        if ORDER.index(role) < ORDER.index(NEEDS.get(path, "collector")):
            assert status == 403, (path, role)
        else:
            expected = 404 if path == "/monitoring" else 200
            assert status == expected, (path, role)


def test_score_invoices_known_and_cold_start(client: httpx.Client, customer: dict) -> None:
    body = {"invoices": [_invoice(customer),
                         _invoice(customer, invoice_id="API-2", customer_id="NEW-CUSTOMER")]}
    response = client.post("/score_invoices", json=body,
                           headers=BY_ROLE["collector"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    known, cold = ScoreResponse.model_validate_json(response.text).model_dump(
        mode="json", exclude_unset=True)["scores"]
    assert [known, cold] == response.json()["scores"]  # the schema's JSON, field for field
    assert (known["invoice_id"], cold["invoice_id"]) == ("API-1", "API-2")
    assert known["cold_start"] is False and known["history_as_of"] == AS_OF
    assert cold["cold_start"] is True
    for row in (known, cold):
        assert 0 < row["p_late"] < 1 and row["risk_band"] in ("low", "medium", "high")
        assert row["as_of"] == AS_OF and len(row["reasons"]) <= 3


def test_worklist_limits_customer_and_model_info(client: httpx.Client, customer: dict) -> None:
    rows = client.post("/worklist", json={"top_k": 5}, headers=ADMIN).json()["worklist"]
    assert 0 < len(rows) <= 5 and [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert {"customer_id", "priority", "amount_at_risk", "reasons", "action"} <= set(rows[0])
    unheld = client.post("/worklist", json={"include_held": False}, headers=ADMIN).json()
    assert all(not r["held"] for r in unheld["worklist"])
    limits = client.post("/credit_limits", json={"customer_ids": [customer["customer_id"]]},
                         headers=BY_ROLE["credit_manager"]).json()["limits"]
    assert [r["customer_id"] for r in limits] == [customer["customer_id"]]
    assert {"recommended_limit", "grade", "probability", "reasons"} <= set(limits[0])
    profile = client.post("/customer", json={"customer_id": customer["customer_id"]},
                          headers=ADMIN).json()
    assert profile["limit"]["grade"] == limits[0]["grade"]
    assert "late_share_all" in profile["features"]
    info = client.get("/model_info", headers=ADMIN).json()
    assert {m["name"] for m in info["models"]} == {"late-payment-risk", "collections-risk",
                                                  "serious-delinquency"}
    assert all("champion" in m["aliases"] and "auc" in m["validation_metrics"]
               for m in info["models"])
    assert info["snapshot"]["as_of"] == AS_OF


def test_unknown_customer_is_404(client: httpx.Client) -> None:
    response = client.post("/customer", json={"customer_id": "NOBODY"}, headers=ADMIN)
    assert response.status_code == 404 and response.json()["field"] == "customer_id"
    response = client.post("/credit_limits", json={"customer_ids": ["NOBODY"]}, headers=ADMIN)
    assert response.status_code == 404


def test_monitoring_report_when_present(client: httpx.Client, server: Server) -> None:
    absent = client.get("/monitoring", headers=BY_ROLE["collector"])
    assert absent.status_code == 404 and "o2c monitor" in absent.json()["error"]
    folder = server.workdir / "monitoring"
    folder.mkdir(exist_ok=True)
    report = {"verdict": "ok", "as_of": AS_OF, "psi": {"late_share_all": 0.01}}
    (folder / "latest.json.tmp").write_text(json.dumps(report))
    os.replace(folder / "latest.json.tmp", folder / "latest.json")
    try:
        response = client.get("/monitoring", headers=BY_ROLE["collector"])
        assert response.status_code == 200 and response.json() == report
    finally:
        (folder / "latest.json").unlink()


def _bad(customer: dict) -> list[tuple[str, object, str]]:
    """(path, body, what the error must name)."""
    good = _invoice(customer)
    return [
        ("/score_invoices", {}, "invoices"),
        ("/score_invoices", {"invoices": [good], "extra": 1}, "extra"),
        ("/score_invoices", {"invoices": [{**good, "colour": "red"}]}, "colour"),
        ("/score_invoices", {"invoices": [{k: v for k, v in good.items() if k != "amount"}]},
         "amount"),
        ("/score_invoices", {"invoices": [{**good, "amount": "lots"}]}, "amount"),
        ("/score_invoices", {"invoices": [{**good, "amount": -5}]}, "amount"),
        ("/score_invoices", {"invoices": [{**good, "issue_date": "2026-02-30"}]},
         "issue_date"),
        ("/score_invoices", {"invoices": [{**good, "due_date": "soon"}]}, "due_date"),
        ("/score_invoices", {"invoices": [{**good, "due_date": "2026-01-01"}]}, "due_date"),
        ("/score_invoices", {"invoices": []}, "invoices"),
        ("/score_invoices", {"invoices": good}, "invoices"),
        ("/score_invoices", {"invoices": [good], "as_of": "yesterday"}, "as_of"),
        ("/score_invoices", {"invoices": [good], "as_of": "2026-02-01"}, "as_of"),
        ("/score_invoices", {"invoices": [{**good, "currency": "euro"}]}, "currency"),
        ("/worklist", {"top_k": "ten"}, "top_k"),
        ("/worklist", {"top_k": 0}, "top_k"),
        ("/worklist", {"min_amount": -1}, "min_amount"),
        ("/worklist", {"collector": "nobody"}, "collector"),
        ("/credit_limits", {"customer_ids": "C000001"}, "customer_ids"),
        ("/customer", {}, "customer_id"),
        ("/customer", {"customer_id": 7}, "customer_id"),
    ]


def test_bad_inputs_get_4xx_naming_the_field(client: httpx.Client, customer: dict) -> None:
    for path, body, field in _bad(customer):
        response = client.post(path, json=body, headers=ADMIN)
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert field in response.text, (path, body, response.text)


@pytest.mark.parametrize("raw", [b'{"invoices": [', b"not json", b"", b"[]", b"null",
                                 b'{"invoices": [{"amount": NaN}]}',
                                 b'{"invoices": [{"amount": Infinity}]}'])
def test_malformed_json_and_non_finite_numbers(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/score_invoices", content=raw,
                           headers={**ADMIN, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


def test_nan_amount_is_refused_by_name(client: httpx.Client, customer: dict) -> None:
    raw = json.dumps({"invoices": [_invoice(customer, amount=float("nan"))]}).encode()
    response = client.post("/score_invoices", content=raw, headers=ADMIN)
    assert response.status_code == 400 and "amount" in response.text
    assert "finite" in response.text


def test_batch_over_the_limit_is_413(client: httpx.Client, customer: dict) -> None:
    body = {"invoices": [_invoice(customer, invoice_id=f"B{i}") for i in range(1001)]}
    response = client.post("/score_invoices", json=body, headers=ADMIN)
    assert response.status_code == 413 and "1000" in response.json()["error"]
    body["invoices"] = body["invoices"][:1000]
    assert client.post("/score_invoices", json=body, headers=ADMIN).status_code == 200


def test_reload_while_requests_are_in_flight(client: httpx.Client, customer: dict) -> None:
    body = {"invoices": [_invoice(customer)]}

    def score(_: int) -> int:
        return client.post("/score_invoices", json=body, headers=ADMIN).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        scores = pool.map(score, range(60))
        reload = client.post("/reload", json={}, headers=ADMIN)
        statuses = list(scores)
    assert reload.status_code == 200, reload.text
    assert reload.json()["snapshot"]["as_of"] == AS_OF
    assert statuses == [200] * 60


def test_reload_picks_up_a_new_snapshot_and_survives_a_failed_one(
    client: httpx.Client, server: Server, customer: dict
) -> None:
    snapshots = server.workdir / "snapshots"
    newer = snapshots / "2026-03-02"
    shutil.copytree(snapshots / AS_OF, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "as_of": "2026-03-02"}))
    try:
        reloaded = client.post("/reload", json={}, headers=ADMIN)
        assert reloaded.status_code == 200 and reloaded.json()["snapshot"]["as_of"] == "2026-03-02"
        (newer / "customers.parquet").unlink()  # a broken latest snapshot
        failed = client.post("/reload", json={}, headers=ADMIN)
        assert failed.status_code == 409 and "customers.parquet" in failed.json()["error"]
        info = client.get("/model_info", headers=ADMIN).json()
        assert info["snapshot"]["as_of"] == "2026-03-02"  # still the one loaded before
        score = client.post("/score_invoices", json={"invoices": [_invoice(customer)]},
                            headers=ADMIN)
        assert score.status_code == 200 and score.json()["scores"][0]["as_of"] == "2026-03-02"
    finally:
        shutil.rmtree(newer)
        assert client.post("/reload", json={}, headers=ADMIN).status_code == 200
    assert client.get("/model_info", headers=ADMIN).json()["snapshot"]["as_of"] == AS_OF


def test_schemathesis_finds_no_server_error(server: Server) -> None:
    """Positive and negative cases generated from the served OpenAPI spec: no 5xx.
    Bounded: a few examples per operation; /reload is left out (it reloads models)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/reload":
            continue
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def call(case) -> None:  # noqa: ANN001
                response = case.call(base_url=server.url, headers=ADMIN, timeout=30)
                assert response.status_code < 500, (case.method, case.path, case.body,
                                                    response.status_code, response.text)

            try:
                call()
            except Unsatisfiable:
                # no invalid request exists for an operation without inputs (GET)
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.path
                assert operation.method.upper() == "GET", operation.path
        checked.append(operation.path)
    assert {"/score_invoices", "/worklist", "/credit_limits", "/customer",
            "/model_info", "/monitoring"} <= set(checked)


def test_load_of_2000_requests_without_errors(client: httpx.Client, customer: dict) -> None:
    """2,000 requests from 8 threads, mostly single-invoice scores: every one answers 200."""
    score = {"invoices": [_invoice(customer)]}

    def one(i: int) -> int:
        if i % 10 == 9:
            return client.post("/worklist", json={"top_k": 20}, headers=ADMIN).status_code
        return client.post("/score_invoices", json=score, headers=ADMIN).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(2000)))
    assert statuses.count(200) == 2000, {s: statuses.count(s) for s in set(statuses)}


def test_server_log_holds_no_key_material(server: Server, client: httpx.Client) -> None:
    client.post("/worklist", json={}, headers={"Authorization": f"Bearer {WRONG_KEY}"})
    text = server.log.read_text(errors="replace")
    assert "POST" in text or "path=" in text  # the access log is there
    for key in (*KEYS, WRONG_KEY):
        assert key not in text


def test_serve_refuses_to_start_without_a_snapshot(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", "1"],
                           env={"O2C_WORKDIR": str(tmp_path / "empty")})
    assert result.exit_code == 1 and "o2c score" in result.output


def test_serve_refuses_bad_keys(workdir: tuple[Path, Path]) -> None:
    _, work = workdir
    keys = json.dumps({"long-enough-key": "boss"})
    result = runner.invoke(app, ["serve", "--port", "1"],
                           env={"O2C_WORKDIR": str(work), "O2C_API_KEYS": keys})
    assert result.exit_code == 1 and "role 'boss'" in result.output
    assert "long-enough-key" not in result.output


def test_serve_refuses_a_snapshot_of_an_older_version(workdir: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    _, work = workdir
    old = tmp_path / "work" / "snapshots" / AS_OF
    shutil.copytree(work / "snapshots" / AS_OF, old)
    (old / "customers.parquet").unlink()
    result = runner.invoke(app, ["serve", "--port", "1"],
                           env={"O2C_WORKDIR": str(tmp_path / "work")})
    assert result.exit_code == 1 and "customers.parquet" in result.output
    assert "o2c score" in result.output


def test_the_demo_tour_calls_the_api(workdir: tuple[Path, Path],
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from o2c import api_tour

    _, work = workdir
    monkeypatch.setenv("O2C_WORKDIR", str(work))
    api_tour.main()
    printed = capsys.readouterr().out
    assert "cold start" in printed and "as a collector: 403" in printed
    assert "limits, the largest cut" in printed
