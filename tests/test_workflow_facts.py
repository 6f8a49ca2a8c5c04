"""The store's actions become dated ledger facts (`o2c actions export`) that features read
from the next day on, never on the day of the action; on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import build_customer_features, build_snapshot
from ledger import load_ledger
from o2c.cli import app
from serving.workflow import actions, users
from serving.workflow.actions import Book
from serving.workflow.db import open_store
from serving.workflow.errors import WorkflowError
from serving.workflow.facts import export_actions
from tests.conftest import tiny_ledger_frames, write_frames

ALICE = users.Actor("alice", "collector")
BOOK = Book(dt.date(2024, 5, 1), frozenset({"C1", "C2"}),
            {"I1": "C1", "I2": "C1", "I4": "C2"})


def features(folder: Path, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    ledger = load_ledger(folder)
    try:
        return build_customer_features(ledger, as_of), build_snapshot(ledger, as_of)
    finally:
        ledger.close()


def test_actions_count_in_features_from_the_next_day_only(db_url: str,
                                                          tmp_path: Path) -> None:
    folder = write_frames(tiny_ledger_frames(), tmp_path / "ledger")
    store = open_store(db_url)
    users.add_user(store, "alice", "collector")
    today = dt.date.today()
    actions.log_promise(store, ALICE, BOOK, customer_id="C2", amount=700.0,
                        promised_date=today + dt.timedelta(days=5), invoice_ids=["I4"])
    actions.open_dispute(store, ALICE, BOOK, invoice_id="I4", reason="damaged goods")
    tomorrow = today + dt.timedelta(days=1)
    before = {day: features(folder, day) for day in (today, tomorrow)}

    assert export_actions(folder, store) == {"promises": 1, "disputes": 1}
    assert export_actions(folder, store) == {"promises": 1, "disputes": 1}  # idempotent
    promises = pd.read_parquet(folder / "promises.parquet")
    assert list(promises["promise_id"]) == ["R1", "WF-P1"]  # the ledger's own rows stay
    assert promises.iloc[1]["created_date"] == pd.Timestamp(today)

    same_customers, same_snapshot = features(folder, today)
    pd.testing.assert_frame_equal(same_customers, before[today][0])
    pd.testing.assert_frame_equal(same_snapshot, before[today][1])
    customers, snapshot = features(folder, tomorrow)
    old = before[tomorrow][0].set_index("customer_id")
    new = customers.set_index("customer_id")
    assert new.loc["C2", "promises_active"] == old.loc["C2", "promises_active"] + 1
    assert new.loc["C2", "disputes_open"] == old.loc["C2", "disputes_open"] + 1
    pd.testing.assert_series_equal(new.loc["C1"], old.loc["C1"])
    invoice = snapshot.set_index("invoice_id").loc["I4"]
    assert invoice["has_active_promise"] and invoice["has_open_dispute"]
    store.engine.dispose()


def test_a_promise_on_several_invoices_is_split_by_their_amounts_into_a_csv_ledger(
        db_url: str, tmp_path: Path) -> None:
    folder = write_frames(tiny_ledger_frames(), tmp_path / "ledger", fmt="csv")
    store = open_store(db_url)
    users.add_user(store, "alice", "collector")
    actions.log_promise(store, ALICE, BOOK, customer_id="C1", amount=300.0,
                        promised_date=dt.date.today(), invoice_ids=["I1", "I2"])
    export_actions(folder, store)
    rows = pd.read_csv(folder / "promises.csv", dtype=str, keep_default_na=False)
    mine = rows[rows["promise_id"].str.startswith("WF-")]
    assert list(mine["promise_id"]) == ["WF-P1-1", "WF-P1-2"]
    assert list(mine["invoice_id"]) == ["I1", "I2"]
    assert [float(a) for a in mine["amount"]] == [200.0, 100.0]  # invoices of 1,000 and 500
    load_ledger(folder).close()  # still a valid ledger
    store.engine.dispose()


def test_export_refuses_a_ledger_without_the_store_s_customers(db_url: str,
                                                              tmp_path: Path) -> None:
    frames = tiny_ledger_frames()
    folder = write_frames(frames, tmp_path / "ledger")
    store = open_store(db_url)
    users.add_user(store, "alice", "collector")
    other = Book(BOOK.as_of, frozenset({"C9"}), {})
    actions.add_note(store, ALICE, other, customer_id="C9", note="not exported")  # no fact
    actions.log_promise(store, ALICE, other, customer_id="C9", amount=1.0,
                        promised_date=dt.date.today())
    written = (folder / "promises.parquet").read_bytes()
    with pytest.raises(WorkflowError) as refused:
        export_actions(folder, store)
    assert "C9" in refused.value.message and refused.value.field == "ledger"
    assert (folder / "promises.parquet").read_bytes() == written
    store.engine.dispose()


def test_o2c_actions_export_on_the_command_line(tmp_path: Path) -> None:
    folder = write_frames(tiny_ledger_frames(), tmp_path / "ledger")
    env = {"O2C_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    runner = CliRunner()
    result = runner.invoke(app, ["actions", "export", "--ledger", str(folder)], env=env)
    assert result.exit_code == 0, result.output
    assert "Exported 0 promise row(s) and 0 dispute row(s)" in result.output
    missing = runner.invoke(app, ["actions", "export", "--ledger", str(tmp_path / "nope")],
                            env=env)
    assert missing.exit_code == 1 and "is not a ledger folder" in missing.output
    assert "Traceback" not in missing.output
