"""The API against hostile or broken input (issue 11): out-of-range dates, loose types, huge
bodies and id lists, partial lookups, snapshots it cannot serve, log flooding, redirects.

The live tests run `o2c serve` on a free loopback port over a copy of the session's trained
working folder (`api_workdir`), with small limits set through `O2C_API__*`; every loop and
every request count is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest

from serving.config import DATE_MAX, DATE_MIN
from serving.guard import field_name
from serving.local import running_server
from serving.portfolio import latest_portfolio_dir
from serving.schemas import ScoreRequest
from serving.state import check_manifest
from tests.conftest import API_AS_OF

KEYS = {"hardening-admin-key-1": "admin"}
ADMIN = {"Authorization": "Bearer hardening-admin-key-1"}
MAX_BODY_BYTES = 300_000
MAX_IDS = 100
BAD_DATES = [("due_date", "9999-12-31"), ("issue_date", "0001-01-01"), ("as_of", "3000-01-01")]


# ---------------------------------------------------------------- without a server


def _body(**changes: object) -> dict:
    invoice = {"invoice_id": "I1", "customer_id": "C1", "issue_date": "2026-03-01",
               "due_date": "2026-03-31", "amount": 1250.0, "currency": "EUR"}
    top = {k: changes.pop(k) for k in ("as_of", "reasons") if k in changes}
    return {"invoices": [{**invoice, **changes}], **top}


@pytest.mark.parametrize(("field", "value"), BAD_DATES)
def test_dates_outside_the_range_are_refused_naming_field_and_range(field: str,
                                                                    value: str) -> None:
    with pytest.raises(ValueError) as caught:
        ScoreRequest.model_validate_json(json.dumps(_body(**{field: value})))
    assert field in str(caught.value) and f"from {DATE_MIN} to {DATE_MAX}" in str(caught.value)
    ScoreRequest.model_validate_json(json.dumps(_body(**{field: "2026-03-01"})))


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": True}, "amount"), ({"amount": "1250"}, "amount"),
    ({"reasons": "yes"}, "reasons"), ({"reasons": 1}, "reasons"),
    ({"issue_date": 1772323200}, "issue_date"), ({"invoice_id": 7}, "invoice_id"),
])
def test_types_are_strict(change: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ScoreRequest.model_validate_json(json.dumps(_body(**change)))
    whole = ScoreRequest.model_validate_json(json.dumps(_body(amount=1250)))
    assert whole.invoices[0].amount == 1250.0  # a JSON integer is a number


def test_field_names_follow_the_api_style() -> None:
    assert field_name(("invoices", 3, "due_date")) == "invoices[3].due_date"
    assert field_name(("as_of",)) == "as_of"
    assert field_name(()) is None


def _snapshot(root: Path, folder: str, as_of: str) -> None:
    (root / folder).mkdir(parents=True)
    (root / folder / "manifest.json").write_text(json.dumps({"as_of": as_of, "models": {}}))


def test_latest_snapshot_is_chosen_by_the_date_in_its_manifest(tmp_path: Path) -> None:
    _snapshot(tmp_path, "2026-06-01", "2026-06-01")
    _snapshot(tmp_path, "backup", "2026-05-01")
    _snapshot(tmp_path, "zz-copy", "2026-06-01")
    _snapshot(tmp_path, "renamed", "2026-04-01")
    assert latest_portfolio_dir(tmp_path) == tmp_path / "2026-06-01"
    assert latest_portfolio_dir(tmp_path, before=dt.date(2026, 6, 1)) == tmp_path / "backup"
    _snapshot(tmp_path, "a-later-one", "2026-07-01")
    assert latest_portfolio_dir(tmp_path) == tmp_path / "a-later-one"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    assert latest_portfolio_dir(tmp_path) == tmp_path / "a-later-one"


@pytest.mark.parametrize(("manifest", "named"), [
    ({"as_of": "3000-01-01", "models": {}}, "3000-01-01"),
    ({"as_of": "1899-12-31", "models": {}}, "1899-12-31"),
    ({"as_of": "2026-13-01", "models": {}}, "as_of"),
    ({"as_of": "2026-03-01"}, "models"),
    ("{not json", "Invalid JSON"),
])
def test_a_manifest_the_service_cannot_serve_is_named(tmp_path: Path, manifest: object,
                                                      named: str) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ValueError, match=named) as caught:
        check_manifest(tmp_path)
    assert "o2c score" in str(caught.value)
    (tmp_path / "manifest.json").write_text(json.dumps({"as_of": "2099-12-31", "models": {}}))
    assert check_manifest(tmp_path).as_of == DATE_MAX


# ---------------------------------------------------------------- a live server


@pytest.fixture(scope="module")
def work(api_workdir: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained working folder (snapshots are changed here, not there)."""
    _, source = api_workdir
    target = tmp_path_factory.mktemp("hardening") / "work"
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="module")
def server(work: Path) -> Iterator[tuple[str, Path]]:
    log = work.parent / "server.log"
    env = {"O2C_API__MAX_BODY_BYTES": str(MAX_BODY_BYTES), "O2C_API__MAX_IDS": str(MAX_IDS)}
    try:
        with running_server(work, KEYS, log=log, env=env) as url:
            yield url, log
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def client(server: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=60, headers=ADMIN,
                      limits=httpx.Limits(max_connections=32)) as session:
        yield session


@pytest.fixture(scope="module")
def known(client: httpx.Client) -> dict:
    """A customer of the snapshot with a credit limit: its id and currency."""
    limit = client.post("/credit_limits", json={}).json()["limits"][0]
    profile = client.post("/customer", json={"customer_id": limit["customer_id"]}).json()
    currency = profile["open_invoices"][0]["currency"] if profile["open_invoices"] else "EUR"
    return {"customer_id": limit["customer_id"], "currency": currency}


def _invoice(customer: dict, number: int, **changes: object) -> dict:
    return {"invoice_id": f"H{number}", "customer_id": customer["customer_id"],
            "issue_date": "2026-02-25", "due_date": "2026-03-27", "amount": 2500.0,
            "currency": customer["currency"], **changes}


@pytest.mark.slow
def test_bad_dates_never_fail_the_requests_scored_beside_them(client: httpx.Client,
                                                               known: dict) -> None:
    """Acceptance: 150 valid requests sent concurrently with 15 carrying out-of-range dates:
    every valid one answers 200 with its own score, every bad one 400 naming its field."""
    bodies = []
    for i in range(165):
        if i % 11 == 5:
            field, value = BAD_DATES[i % 3]
            invoice = _invoice(known, i, **({} if field == "as_of" else {field: value}))
            bodies.append((field, {"invoices": [invoice],
                                   **({"as_of": value} if field == "as_of" else {})}))
        else:
            bodies.append((None, {"invoices": [_invoice(known, i)]}))
    assert sum(field is not None for field, _ in bodies) == 15

    def send(item: tuple[str | None, dict]) -> httpx.Response:
        return client.post("/score_invoices", json=item[1])

    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(send, bodies))
    for (field, body), response in zip(bodies, responses, strict=True):
        if field is None:
            assert response.status_code == 200, response.text
            assert response.json()["scores"][0]["invoice_id"] == body["invoices"][0]["invoice_id"]
        else:
            assert response.status_code == 400, response.text
            error = response.json()
            assert field in error["field"] and f"{DATE_MIN} to {DATE_MAX}" in error["error"]


LOOSE = [
    ("/score_invoices", lambda c: {"invoices": [_invoice(c, 1, amount=True)]},
     "invoices[0].amount"),
    ("/score_invoices", lambda c: {"invoices": [_invoice(c, 1, amount="1250")]},
     "invoices[0].amount"),
    ("/score_invoices", lambda c: {"invoices": [_invoice(c, 1)], "reasons": "yes"}, "reasons"),
    ("/worklist", lambda c: {"top_k": "5"}, "top_k"),
    ("/worklist", lambda c: {"include_held": "false"}, "include_held"),
    ("/worklist", lambda c: {"min_amount": "10"}, "min_amount"),
    ("/credit_limits", lambda c: {"customer_ids": [1]}, "customer_ids[0]"),
    ("/customer", lambda c: {"customer_id": None}, "customer_id"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "body", "field"), LOOSE)
def test_numbers_must_be_numbers_and_booleans_booleans(
    client: httpx.Client, known: dict, path: str, body: Callable[[dict], dict], field: str
) -> None:
    response = client.post(path, json=body(known))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["field"] == field and field in error["error"]
    assert [e["field"] for e in error["errors"]] == [field]


@pytest.mark.slow
def test_an_integer_amount_is_a_number(client: httpx.Client, known: dict) -> None:
    response = client.post("/score_invoices", json={"invoices": [_invoice(known, 1,
                                                                          amount=2500)]})
    assert response.status_code == 200, response.text


def _raw_post(url: str, path: str, head: dict[str, str], body: bytes) -> tuple[int, dict]:
    """POST over a plain socket: these headers, then `body` (maybe less than it declares);
    the status and JSON body of the answer."""
    parts = urlsplit(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}", "Connection: close",
             "Content-Type: application/json", *(f"{k}: {v}" for k, v in ADMIN.items()),
             *(f"{k}: {v}" for k, v in head.items())]
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while chunk := sock.recv(65536):  # the server closes after its answer
            answer += chunk
    head_text, _, rest = answer.partition(b"\r\n\r\n")
    return int(head_text.split()[1]), json.loads(rest)


def _chunked(size: int) -> bytes:
    """`size` bytes of body in chunked transfer coding, without the closing chunk."""
    out = b""
    while size > 0:
        n = min(size, 65536)
        out += b"%x\r\n%s\r\n" % (n, b"x" * n)
        size -= n
    return out


@pytest.mark.slow
def test_a_body_over_the_limit_is_refused_before_it_is_read(server: tuple[str, Path]) -> None:
    """413 for a body declaring 2 GB of which only a few bytes are ever sent, and for a
    chunked body without a length once it passes the limit (its end is never sent)."""
    url, _ = server
    status, body = _raw_post(url, "/score_invoices", {"Content-Length": str(2 * 1024 ** 3)},
                             b'{"invoices": [')
    assert status == 413 and str(MAX_BODY_BYTES) in body["error"]
    status, body = _raw_post(url, "/credit_limits", {"Transfer-Encoding": "chunked"},
                             _chunked(MAX_BODY_BYTES + 1))
    assert status == 413 and body["field"] is None


@pytest.mark.slow
def test_id_lists_are_bounded_and_each_id_answered_once(client: httpx.Client,
                                                        known: dict) -> None:
    many = client.post("/credit_limits", json={"customer_ids": [known["customer_id"]] *
                                               (MAX_IDS + 1)})
    assert many.status_code == 413 and many.json()["field"] == "customer_ids"
    repeated = client.post("/credit_limits", json={"customer_ids": [known["customer_id"]] *
                                                   MAX_IDS})
    assert repeated.status_code == 200
    assert [r["customer_id"] for r in repeated.json()["limits"]] == [known["customer_id"]]


@pytest.mark.slow
def test_credit_limits_answer_the_ids_found_and_list_the_others(client: httpx.Client,
                                                                known: dict) -> None:
    response = client.post("/credit_limits",
                           json={"customer_ids": ["NOBODY", known["customer_id"]]})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [r["customer_id"] for r in answer["limits"]] == [known["customer_id"]]
    assert answer["not_found"] == ["NOBODY"]
    nobody = client.post("/credit_limits", json={"customer_ids": ["NOBODY"]})
    assert nobody.status_code == 404 and nobody.json()["field"] == "customer_ids"


def _drop(name: str, column: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / f"{name}.parquet"
        pd.read_parquet(path).drop(columns=[column]).to_parquet(path, index=False)
    return change


def _retype(name: str, column: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / f"{name}.parquet"
        frame = pd.read_parquet(path)
        frame.assign(**{column: frame[column].astype(str)}).to_parquet(path, index=False)
    return change


def _date(as_of: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "as_of": as_of}))
    return change


@pytest.mark.slow
@pytest.mark.parametrize(("change", "named"), [
    (_drop("invoice_scores", "p_late"), "p_late"),
    (_drop("limits", "grade"), "grade"),
    (_drop("worklist", "amount_at_risk"), "amount_at_risk"),
    (_retype("invoice_scores", "p_late"), "p_late"),
    (_date("3000-01-01"), "3000-01-01"),
], ids=["no-p_late", "no-grade", "no-amount_at_risk", "text-p_late", "far-future"])
def test_a_snapshot_the_service_cannot_serve_is_refused_on_reload(
    client: httpx.Client, work: Path, known: dict, change: Callable[[Path], None], named: str
) -> None:
    """The newest snapshot is broken: /reload answers 409 naming what is wrong, and the
    snapshot served before still answers every endpoint."""
    newer = work / "snapshots" / "2026-03-02"
    shutil.copytree(work / "snapshots" / API_AS_OF, newer)
    _date("2026-03-02")(newer)
    change(newer)
    try:
        failed = client.post("/reload", json={})
        assert failed.status_code == 409 and named in failed.json()["error"], failed.text
        assert client.get("/model_info").json()["snapshot"]["as_of"] == API_AS_OF
        cold = _invoice(known, 1, customer_id="NEW-CUSTOMER")
        for path, body in [("/score_invoices", {"invoices": [_invoice(known, 0), cold]}),
                           ("/customer", {"customer_id": known["customer_id"]}),
                           ("/worklist", {"top_k": 3}), ("/credit_limits", {})]:
            assert client.post(path, json=body).status_code == 200, path
    finally:
        shutil.rmtree(newer)


@pytest.mark.slow
def test_a_folder_named_otherwise_is_served_by_its_date(client: httpx.Client,
                                                        work: Path) -> None:
    """`snapshots/backup` (an older snapshot) is not served ahead of the dated one."""
    backup = work / "snapshots" / "backup"
    shutil.copytree(work / "snapshots" / API_AS_OF, backup)
    _date("2026-01-15")(backup)
    try:
        reloaded = client.post("/reload", json={})
        assert reloaded.status_code == 200 and reloaded.json()["snapshot"]["as_of"] == API_AS_OF
    finally:
        shutil.rmtree(backup)


@pytest.mark.slow
def test_a_client_error_is_one_warning_line_without_input_values(
    client: httpx.Client, server: tuple[str, Path], known: dict
) -> None:
    _, log = server
    marker = "SECRET-INPUT-VALUE-42"
    before = log.stat().st_size
    bad = [("/score_invoices", {"invoices": [_invoice(known, 1, invoice_id=marker,
                                                      amount="lots")]}),
           ("/score_invoices", {"invoices": [_invoice(known, 1, invoice_id=marker,
                                                      currency="XXX")]}),
           ("/worklist", {"country": marker}),
           ("/customer", {"customer_id": marker})]
    for path, body in bad:
        assert 400 <= client.post(path, json=body).status_code < 500, path
    with log.open("rb") as handle:
        handle.seek(before)
        added = handle.read().decode(errors="replace")
    assert marker not in added and "Traceback" not in added and "ERROR" not in added
    warnings = [line for line in added.splitlines() if "client error" in line]
    assert len(warnings) == len(bad), added
    assert all("WARNING" in line for line in warnings)
    assert "invoices[0].amount" in warnings[0] and "invoices[0].currency" in warnings[1]
    others = [line for line in added.splitlines()
              if "client error" not in line and "method=POST" not in line]
    assert not others, others  # nothing but the warnings and the access log


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [("POST", "/credit_limits/"),
                                              ("POST", "/score_invoices/"),
                                              ("GET", "/model_info/")])
def test_no_redirect_is_built_from_the_host_header(client: httpx.Client, method: str,
                                                   path: str) -> None:
    response = client.request(method, path, json={} if method == "POST" else None,
                              headers={"Host": "attacker.example"})
    assert response.status_code == 404 and "location" not in response.headers
    assert "attacker.example" not in response.text
