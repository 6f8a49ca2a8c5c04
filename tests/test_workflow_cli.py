"""`o2c users`, `o2c db upgrade`, `o2c log` and `o2c assign` on the command line, over a
hand-made snapshot, on SQLite and on a real PostgreSQL (`db_url`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from o2c.cli import app
from serving.portfolio import write_portfolio
from serving.workflow import users
from serving.workflow.db import open_store
from serving.workflow.ownership import owners
from tests.test_workflow_actions import portfolio

runner = CliRunner()
SOON = (dt.date.today() + dt.timedelta(days=3)).isoformat()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Settings pointing at the backend's store and a work folder with one snapshot."""
    write_portfolio(portfolio(), tmp_path / "work" / "snapshots")
    return {"O2C_DATABASE_URL": db_url, "O2C_WORKDIR": str(tmp_path / "work")}


def o2c(env: dict[str, str], *args: str, stdin: str | None = None):  # noqa: ANN201
    return runner.invoke(app, list(args), env=env, input=stdin)


def test_users_keys_and_logged_actions(env: dict[str, str]) -> None:
    upgraded = o2c(env, "db", "upgrade")
    assert upgraded.exit_code == 0 and "at revision" in upgraded.output
    assert "***" not in upgraded.output or "@" in env["O2C_DATABASE_URL"]
    added = o2c(env, "users", "add", "alice", "--role", "collector", "--password-stdin",
                stdin="correct horse battery\n")
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    store = open_store(env["O2C_DATABASE_URL"])
    assert users.actor_for_digest(store, users.key_digest(key)).name == "alice"
    assert users.check_password(store, "alice", "correct horse battery") is not None
    assert o2c(env, "users", "add", "bob", "--role", "collector").exit_code == 0
    listed = o2c(env, "users", "list")
    assert "alice" in listed.output and "bob" in listed.output and key not in listed.output

    logged = o2c(env, "log", "promise", "B", "--date", SOON, "--amount", "800", "--user",
                 "alice", "--note", "by Friday")
    assert logged.exit_code == 0, logged.output
    assert "Recorded promise #1 for customer B by alice" in logged.output
    for args in (("log", "contact", "A", "--channel", "call", "--outcome", "reached"),
                 ("log", "dispute", "A1", "--reason", "wrong price"),
                 ("log", "resolve", "A1", "--resolution", "credit note"),
                 ("log", "note", "C", "--text", "new buyer"),
                 ("assign", "C", "--to", "bob")):
        done = o2c(env, *args, "--user", "alice")
        assert done.exit_code == 0, (args, done.output)
    assert owners(store) == {"C": "bob"}

    rotated = o2c(env, "users", "key", "alice")
    assert rotated.exit_code == 0
    assert users.actor_for_digest(store, users.key_digest(key)) is None
    assert o2c(env, "users", "disable", "alice").exit_code == 0
    refused = o2c(env, "log", "note", "C", "--text", "again", "--user", "alice")
    assert refused.exit_code == 1 and "disabled" in refused.output
    store.engine.dispose()


BAD_INPUT = [  # (arguments, what the error must say)
    (("log", "promise", "Z", "--date", SOON, "--amount", "5"), "customer_id: unknown customer"),
    (("log", "promise", "A", "--date", "2020-01-01", "--amount", "5"), "promised_date"),
    (("log", "promise", "A", "--date", SOON, "--amount", "-5"), "amount"),
    (("log", "dispute", "NOPE", "--reason", "x"), "invoice_id: unknown invoice"),
    (("log", "contact", "A", "--channel", "fax", "--outcome", "x"), "channel"),
    (("assign", "A", "--to", "nobody"), "to: unknown user 'nobody'"),
]


def test_bad_input_exits_1_naming_the_field_without_a_traceback(env: dict[str, str]) -> None:
    assert o2c(env, "users", "add", "alice", "--role", "collector").exit_code == 0
    for args, message in BAD_INPUT:
        result = o2c(env, *args, "--user", "alice")
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        unknown = o2c(env, *args, "--user", "mallory")
        assert unknown.exit_code == 1 and "unknown user 'mallory'" in unknown.output


def test_o2c_worklist_lays_the_store_over_the_latest_snapshot_only(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from o2c.actions import with_store_actions
    from o2c.settings import load_settings
    from serving.portfolio import read_portfolio

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert o2c(env, "users", "add", "alice", "--role", "collector").exit_code == 0
    assert o2c(env, "log", "promise", "B", "--date", SOON, "--amount", "800",
               "--user", "alice").exit_code == 0
    settings = load_settings()
    latest = read_portfolio(settings.snapshots_dir / portfolio().as_of.isoformat())
    rows = with_store_actions(latest, settings).set_index("customer_id")
    assert rows.loc["B", "held"] and rows.loc["B", "action"] == "hold"
    assert rows.loc["B", "reasons"][0].startswith("promise to pay 800.00")
    assert list(rows.columns) == list(latest.worklist.set_index("customer_id").columns)
    older = portfolio()
    older.as_of = older.as_of - dt.timedelta(days=7)  # a past worklist: as it was
    assert not with_store_actions(older, settings)["held"].any()
