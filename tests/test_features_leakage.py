"""Point-in-time correctness: nothing dated on or after T changes a feature as of T."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features import build_customer_features, build_invoice_features, build_snapshot
from ledger import ledger_from_frames
from ledger.synthetic import SyntheticConfig, generate_ledger
from tests.conftest import facts_before
from tests.test_features_handmade import handmade_frames

CUTS = (dt.date(2024, 9, 15), dt.date(2025, 3, 1), dt.date(2025, 8, 20))


def synthetic_frames() -> dict[str, pd.DataFrame]:
    """A small synthetic ledger (about 3,300 invoices over two years)."""
    tables = generate_ledger(SyntheticConfig(customers=60, months=24, seed=7))
    return {name: table.to_pandas() for name, table in tables.items()
            if not name.startswith("truth_")}


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    return synthetic_frames()


def _invoice_rows_before(frame: pd.DataFrame, cut: dt.date) -> pd.DataFrame:
    return frame[frame["issue_date"] < pd.Timestamp(cut)].reset_index(drop=True)


def _assert_same_as_of(full: dict[str, pd.DataFrame], known: dict[str, pd.DataFrame],
                       cut: dt.date) -> None:
    a, b = ledger_from_frames(full), ledger_from_frames(known)
    try:
        pd.testing.assert_frame_equal(build_snapshot(a, cut), build_snapshot(b, cut),
                                      check_exact=True)
        pd.testing.assert_frame_equal(build_customer_features(a, cut),
                                      build_customer_features(b, cut), check_exact=True)
        pd.testing.assert_frame_equal(
            _invoice_rows_before(build_invoice_features(a), cut),
            _invoice_rows_before(build_invoice_features(b), cut), check_exact=True)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("cut", CUTS)
def test_features_as_of_t_ignore_every_fact_dated_on_or_after_t(synthetic, cut):
    known = facts_before(synthetic, cut)
    assert len(known["invoices"]) < len(synthetic["invoices"])
    assert len(known["payments"]) < len(synthetic["payments"])
    _assert_same_as_of(synthetic, known, cut)


@pytest.mark.parametrize("cut", [dt.date(2024, 3, 10), dt.date(2024, 6, 5),
                                 dt.date(2024, 7, 1), dt.date(2024, 7, 20)])
def test_handmade_ledger_boundaries(cut):
    """Cuts on the very days of a payment, a credit note, a dispute and its resolution."""
    frames = handmade_frames()
    _assert_same_as_of(frames, facts_before(frames, cut), cut)


def _appended(frames: dict[str, pd.DataFrame], cut: dt.date) -> dict[str, pd.DataFrame]:
    """The hand-made ledger plus facts dated on or after `cut` of every kind."""
    t = pd.Timestamp(cut)
    out = {name: frame.copy() for name, frame in frames.items()}

    def add(name: str, **row: object) -> None:
        out[name] = pd.concat([out[name], pd.DataFrame([row])], ignore_index=True)

    add("invoices", invoice_id="A9", customer_id="A", issue_date=t,
        due_date=t + pd.Timedelta(days=30), amount=5000.0, currency="EUR")
    add("invoices", invoice_id="B1", customer_id="B", issue_date=t + pd.Timedelta(days=3),
        due_date=t + pd.Timedelta(days=33), amount=70.0, currency="USD")
    add("payments", payment_id="P9", invoice_id="A9", customer_id="A", payment_date=t,
        amount=1000.0)
    add("payments", payment_id="P10", invoice_id="C1", customer_id="C", payment_date=t,
        amount=100.0)
    add("credit_notes", credit_note_id="N9", invoice_id="A9", customer_id="A",
        issue_date=t + pd.Timedelta(days=1), amount=10.0)
    add("disputes", dispute_id="D9", invoice_id="A9", opened_date=t, resolved_date=t)
    add("promises", promise_id="R9", customer_id="A", created_date=t,
        promised_date=t + pd.Timedelta(days=5), amount=100.0, invoice_id="A9", kept=None)
    add("promises", promise_id="R10", customer_id="C", created_date=t,
        promised_date=t, amount=10.0, invoice_id=None, kept=None)
    return out


def test_appending_facts_dated_on_or_after_t_changes_nothing_as_of_t():
    cut = dt.date(2024, 7, 25)
    frames = handmade_frames()
    appended = _appended(frames, cut)
    _assert_same_as_of(appended, frames, cut)
    # and the appended facts do count the day after
    later = cut + dt.timedelta(days=1)
    a, b = ledger_from_frames(appended), ledger_from_frames(frames)
    try:
        assert not build_snapshot(a, later).equals(build_snapshot(b, later))
    finally:
        a.close()
        b.close()


def test_dispute_opened_before_t_and_resolved_on_t_is_open_as_of_t():
    frames = handmade_frames()
    frames["disputes"]["resolved_date"] = pd.to_datetime(["2024-07-01"])
    ledger = ledger_from_frames(frames)
    try:
        snap = build_snapshot(ledger, dt.date(2024, 7, 1)).set_index("invoice_id")
        assert bool(snap.loc["A4", "has_open_dispute"])
        assert snap.loc["A4", "disputes_open"] == 1.0
        later = build_snapshot(ledger, dt.date(2024, 7, 2)).set_index("invoice_id")
        assert not bool(later.loc["A4", "has_open_dispute"])
        assert later.loc["A4", "disputes_open"] == 0.0
    finally:
        ledger.close()
