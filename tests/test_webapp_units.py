"""The web app's parts that need no server: the session key, CSRF tokens, the sign-in
throttle, number formats, reading the worklist's action form, the charts."""

from __future__ import annotations

import datetime as dt
import stat

import pytest

from serving.webapp import charts
from serving.webapp.backend import LoggedAction
from serving.webapp.formatting import day, money, number, percent
from serving.webapp.security import (
    SECRET_FILE,
    LoginThrottle,
    csrf_token,
    csrf_valid,
    session_secret,
)
from serving.workflow.errors import WorkflowError

PNG = b"\x89PNG\r\n\x1a\n"


def test_session_key_is_generated_once_private_and_kept(tmp_path) -> None:  # noqa: ANN001
    key = session_secret(None, tmp_path / "work")
    path = tmp_path / "work" / SECRET_FILE
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(None, tmp_path / "work") == key  # read back, not replaced
    assert session_secret("c" * 40, tmp_path / "work") == "c" * 40  # configured wins
    path.write_text("short\n")
    with pytest.raises(ValueError, match="webapp-secret"):
        session_secret(None, tmp_path / "work")


def test_csrf_token_is_per_session_and_checked() -> None:
    session: dict = {}
    token = csrf_token(session)
    assert csrf_token(session) == token and len(token) >= 32
    assert csrf_valid(session, token)
    assert not csrf_valid(session, token + "x") and not csrf_valid(session, None)
    assert not csrf_valid({}, token)  # a session without one accepts nothing


def test_throttle_counts_failures_per_user_and_address() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("Cora", "10.0.0.1") == 0
        throttle.failed("Cora", "10.0.0.1")
    assert throttle.retry_after("cora", "10.0.0.1") == pytest.approx(60)  # name case-blind
    assert throttle.retry_after("cora", "10.0.0.2") == 0  # another address
    assert throttle.retry_after("max", "10.0.0.1") == 0  # another user
    now[0] += 30
    assert throttle.retry_after("cora", "10.0.0.1") == pytest.approx(30)
    now[0] += 31
    assert throttle.retry_after("cora", "10.0.0.1") == 0  # the window has passed
    throttle.failed("cora", "10.0.0.1")
    throttle.succeeded("cora", "10.0.0.1")
    assert throttle._failures == {}  # noqa: SLF001 - forgotten after a sign-in


def test_numbers_read_with_separators_and_currency() -> None:
    assert money(1234567.891, "EUR") == "1,234,568 EUR"
    assert money(1234.5, "USD", 2) == "1,234.50 USD"
    assert money(None, "EUR") == money(float("nan")) == "–"
    assert number(-12345) == "-12,345"
    assert percent(0.1234) == "12.3%"
    assert day("2026-03-01T00:00:00") == "2026-03-01" and day(dt.date(2026, 3, 1)) == "2026-03-01"


def test_the_action_form_is_read_or_refused_by_field() -> None:
    promise = LoggedAction.from_form({"kind": "promise", "customer_id": " C1 ",
                                      "promised_date": "2026-12-01", "amount": "1,500.50",
                                      "invoice_id": "", "note": "  "})
    assert (promise.customer_id, promise.amount, promise.promised_date) == \
        ("C1", 1500.5, dt.date(2026, 12, 1))
    assert promise.invoice_id is None and promise.note is None
    assert LoggedAction.from_form({"kind": "call", "customer_id": "C1",
                                   "amount": "not read for a call"}).amount is None
    for form, field in [({"kind": "visit", "customer_id": "C1"}, "kind"),
                        ({"kind": "note"}, "customer_id"),
                        ({"kind": "promise", "customer_id": "C1", "promised_date": "soon",
                          "amount": "5"}, "promised_date"),
                        ({"kind": "promise", "customer_id": "C1",
                          "promised_date": "2026-12-01", "amount": "lots"}, "amount"),
                        ({"kind": "promise", "customer_id": "C1",
                          "promised_date": "2026-12-01", "amount": "inf"}, "amount")]:
        with pytest.raises(WorkflowError) as refused:
            LoggedAction.from_form(form)
        assert refused.value.field == field, form
    with pytest.raises(WorkflowError) as refused:  # a dispute names its invoice
        LoggedAction.from_form({"kind": "dispute", "customer_id": "C1", "reason": "x"}).call()
    assert refused.value.field == "invoice_id"


def test_charts_are_png_with_or_without_data() -> None:
    days = [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert charts.balance_chart(days, [100.0, 50.0], days[:1], [12], "EUR").startswith(PNG)
    assert charts.balance_chart([], [], [], [], None).startswith(PNG)
    assert charts.aging_chart({"current": 10.0, "1_30": 5.0}, "EUR").startswith(PNG)
    assert charts.forecast_chart(days, [5.0, 3.0], [4.0, 2.0], [6.0, 4.0], "EUR"
                                 ).startswith(PNG)


def test_demo_users_are_made_once_with_a_password_that_signs_in(tmp_path) -> None:  # noqa: ANN001
    import re

    from typer.testing import CliRunner

    from o2c.cli import app
    from serving.workflow.db import default_url, store_for
    from serving.workflow.users import check_password

    env = {"O2C_WORKDIR": str(tmp_path / "work")}
    first = CliRunner().invoke(app, ["demo-users", "--port", "3005"], env=env)
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:3005/app/login" in first.output
    made = dict(re.findall(r"(demo-\w+)\s+password (\w+)", first.output))
    assert set(made) == {"demo-collector", "demo-manager", "demo-admin"}
    store = store_for(default_url(tmp_path / "work"))
    roles = {name: check_password(store, name, password).role
             for name, password in made.items()}
    assert roles == {"demo-collector": "collector", "demo-manager": "credit_manager",
                     "demo-admin": "admin"}
    again = CliRunner().invoke(app, ["demo-users"], env=env)
    assert again.exit_code == 0 and "password" in again.output
    assert not re.search(r"password \w{16}", again.output)  # never printed twice


def test_demo_users_give_a_password_to_a_demo_user_made_without_one(tmp_path) -> None:  # noqa: ANN001
    # The workflow tour makes demo-collector with a key only; the web app needs a password.
    import re

    from typer.testing import CliRunner

    from o2c.cli import app
    from serving.workflow.db import default_url, store_for
    from serving.workflow.users import add_user, check_password

    env = {"O2C_WORKDIR": str(tmp_path / "work")}
    assert CliRunner().invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    store = store_for(default_url(tmp_path / "work"))
    add_user(store, "demo-collector", "collector")
    result = CliRunner().invoke(app, ["demo-users"], env=env)
    assert result.exit_code == 0, result.output
    password = re.search(r"demo-collector\s+password (\w+)", result.output).group(1)
    assert check_password(store, "demo-collector", password).role == "collector"


def test_stored_details_read_as_plain_text() -> None:
    from serving.webapp.formatting import plain

    assert plain({"recommended_limit_local": 1275000.0, "probability": 0.774426845,
                  "reasons": ["a", "b"], "kept": None}) == \
        "recommended limit local: 1,275,000, probability: 0.7744, reasons: a; b, kept: –"
