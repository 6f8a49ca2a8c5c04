"""What a data scientist relies on: one definition everywhere, determinism, stable columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features import (
    build_customer_features,
    build_invoice_features,
    build_snapshot,
    catalog_rows,
    feature_catalog,
    output_columns,
    write_invoice_features,
)
from features.events import MEASURES
from ledger import ledger_from_frames, load_ledger
from tests.conftest import tiny_ledger_frames, write_frames
from tests.test_features_leakage import synthetic_frames

AS_OF = dt.date(2025, 5, 1)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return synthetic_frames()


@pytest.fixture(scope="module")
def ledger(frames):
    ledger = ledger_from_frames(frames)
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def invoice_features(ledger) -> pd.DataFrame:
    return build_invoice_features(ledger)


def test_catalog_defines_each_feature_once_with_meaning_window_and_tables():
    catalog = feature_catalog()
    names = [spec.name for spec in catalog]
    assert len(names) == len(set(names))
    for spec in catalog:
        assert spec.meaning.endswith(".") and len(spec.meaning) > 15, spec.name
        assert spec.window_text in {"all", "as of", "static", "90d", "180d", "365d",
                                    "90d vs all", "last 3", "last 5", "last 10"}, spec.name
        assert "customers" in spec.tables
        assert all(measure in MEASURES for measure, _ in spec.measures)
    required = {"late_share_180d", "days_late_mean_all", "days_late_std_90d",
                "days_late_weighted_365d", "late_share_trend", "days_since_last_late",
                "overdue_31_60_amount", "overdue_90_plus_amount", "utilization",
                "disputes_open", "credit_note_share_all", "promises_broken_all",
                "log_amount", "amount_vs_typical", "terms_days", "quarter_end", "country",
                "industry", "segment", "tenure_days", "open_amount", "open_amount_base",
                "days_past_due", "paid_share", "has_open_dispute", "has_active_promise",
                "has_broken_promise", "currency"}
    assert required <= set(names)
    assert {s.name for s in feature_catalog("customer")}.isdisjoint(
        {"open_amount", "log_amount", "has_open_dispute"})
    with pytest.raises(ValueError, match="scope"):
        feature_catalog("training")
    rows = catalog_rows("snapshot")
    assert [r["name"] for r in rows] == [s.name for s in feature_catalog("snapshot")]
    late = next(r for r in rows if r["name"] == "late_share_180d")
    assert late["window"] == "180d" and "payments" in late["tables"]
    assert late["outputs"] == "invoice, snapshot, customer"


def test_builders_return_the_catalog_columns_with_stable_dtypes(ledger, invoice_features):
    frames = {"invoice": invoice_features, "snapshot": build_snapshot(ledger, AS_OF),
              "customer": build_customer_features(ledger, AS_OF)}
    for scope, frame in frames.items():
        assert list(frame.columns) == output_columns(scope)
        assert len(frame) > 0
        for spec in feature_catalog(scope):
            dtype = frame[spec.name].dtype
            expected = {"float64": "float64", "bool": "bool", "string": "string"}[spec.column_dtype]
            assert str(dtype) == expected, (scope, spec.name, dtype)
        assert str(frame["as_of"].dtype) == "datetime64[ns]"
        assert str(frame["customer_id"].dtype) == "string"


def test_rows_are_sorted_and_unique(ledger, invoice_features, frames):
    assert len(invoice_features) == len(frames["invoices"])
    keys = invoice_features[["customer_id", "invoice_id"]]
    assert keys.equals(keys.sort_values(["customer_id", "invoice_id"]).reset_index(drop=True))
    assert invoice_features["invoice_id"].is_unique
    customers = build_customer_features(ledger, AS_OF)
    assert list(customers["customer_id"]) == sorted(frames["customers"]["customer_id"])


def test_same_ledger_gives_identical_frames(frames, ledger, invoice_features, tmp_path):
    again = ledger_from_frames(frames)
    from_files = load_ledger(write_frames(frames, tmp_path / "ledger"))
    try:
        for other in (again, from_files):
            pd.testing.assert_frame_equal(build_invoice_features(other), invoice_features,
                                          check_exact=True)
            pd.testing.assert_frame_equal(build_snapshot(other, AS_OF),
                                          build_snapshot(ledger, AS_OF), check_exact=True)
            pd.testing.assert_frame_equal(build_customer_features(other, AS_OF),
                                          build_customer_features(ledger, AS_OF),
                                          check_exact=True)
    finally:
        again.close()
        from_files.close()


def test_chunking_by_customer_does_not_change_a_value(ledger, invoice_features):
    chunked = build_invoice_features(ledger, chunk_invoices=250)
    pd.testing.assert_frame_equal(chunked, invoice_features, check_exact=True)


def test_rows_keep_their_order_when_duckdb_may_reorder_results(ledger, invoice_features):
    """The features are projected without ORDER BY; with `preserve_insertion_order = false`
    DuckDB may return them in any order, and the builder puts them back."""
    ledger.con.execute("SET preserve_insertion_order = false")
    try:
        reordered = build_invoice_features(ledger, chunk_invoices=300)
    finally:
        ledger.con.execute("RESET preserve_insertion_order")
    pd.testing.assert_frame_equal(reordered, invoice_features, check_exact=True)


def test_per_invoice_rows_equal_customer_features_as_of_the_issue_date(ledger,
                                                                         invoice_features):
    """The vectorized per-invoice path and the SQL as-of path share one definition."""
    shared = [s.name for s in feature_catalog("customer")]
    dates = invoice_features["issue_date"].drop_duplicates().sort_values().iloc[::97]
    assert len(dates) >= 5
    for day in dates:
        rows = invoice_features[invoice_features["issue_date"] == day]
        customers = build_customer_features(ledger, day.date()).set_index("customer_id")
        expected = customers.loc[rows["customer_id"], shared].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[shared].reset_index(drop=True), expected,
                                      check_exact=True, check_names=False)


def test_snapshot_is_the_open_invoices_and_matches_customer_features(ledger, frames):
    snapshot = build_snapshot(ledger, AS_OF)
    open_ids = {r[0] for r in ledger.rows(
        f"SELECT invoice_id FROM ({_open_sql(AS_OF)})")}
    assert set(snapshot["invoice_id"]) == open_ids
    assert (snapshot["open_amount"] > 0).all()
    assert (snapshot["issue_date"] < pd.Timestamp(AS_OF)).all()
    shared = [s.name for s in feature_catalog("customer")]
    customers = build_customer_features(ledger, AS_OF).set_index("customer_id")
    expected = customers.loc[snapshot["customer_id"], shared].reset_index(drop=True)
    pd.testing.assert_frame_equal(snapshot[shared].reset_index(drop=True), expected,
                                  check_exact=True, check_names=False)
    # the customer's open balance is the sum of its open invoices
    per_customer = snapshot.groupby("customer_id")["open_amount_base"].sum()
    assert per_customer.values == pytest.approx(
        customers.loc[per_customer.index, "open_balance_base"].values)


def _open_sql(as_of: dt.date) -> str:
    from ledger.summary import open_amounts_sql
    return open_amounts_sql(as_of)


def test_a_ledger_with_only_customers_invoices_and_payments_works():
    frames = {k: v for k, v in tiny_ledger_frames().items()
              if k in ("customers", "invoices", "payments")}
    frames["customers"]["currency"] = "EUR"
    frames["invoices"]["currency"] = "EUR"
    ledger = ledger_from_frames(frames)
    try:
        invoices = build_invoice_features(ledger)
        snapshot = build_snapshot(ledger, dt.date(2024, 3, 12))
        customers = build_customer_features(ledger, dt.date(2024, 3, 12))
    finally:
        ledger.close()
    assert len(invoices) == 4 and len(customers) == 2
    assert list(snapshot["invoice_id"]) == ["I2", "I3", "I4"]
    assert (customers[["disputes_open", "promises_made_all"]] == 0).all().all()
    assert not snapshot["has_open_dispute"].any()
    # no fx_rates and one currency: amounts at rate 1
    assert snapshot.set_index("invoice_id").loc["I3", "open_amount_base"] == 1000.0


def test_an_empty_ledger_gives_empty_frames_with_all_columns():
    frames = {k: v.iloc[0:0] for k, v in tiny_ledger_frames().items()}
    ledger = ledger_from_frames(frames)
    try:
        invoices = build_invoice_features(ledger)
        snapshot = build_snapshot(ledger, dt.date(2024, 1, 1))
        customers = build_customer_features(ledger, dt.date(2024, 1, 1))
    finally:
        ledger.close()
    assert invoices.empty and snapshot.empty and customers.empty
    assert list(invoices.columns) == output_columns("invoice")
    assert list(snapshot.columns) == output_columns("snapshot")


def test_issue_date_range_selects_rows_but_keeps_full_history(ledger, invoice_features):
    start, end = dt.date(2025, 1, 1), dt.date(2025, 4, 1)
    part = build_invoice_features(ledger, start=start, end=end)
    mask = (invoice_features["issue_date"] >= pd.Timestamp(start)) & \
        (invoice_features["issue_date"] < pd.Timestamp(end))
    assert 0 < len(part) < len(invoice_features)
    pd.testing.assert_frame_equal(part, invoice_features[mask].reset_index(drop=True),
                                  check_exact=True)


def test_write_invoice_features_streams_the_same_rows_to_parquet(ledger, invoice_features,
                                                                 tmp_path):
    path = tmp_path / "out" / "invoice_features.parquet"
    rows = write_invoice_features(ledger, path, chunk_invoices=400)
    assert rows == len(invoice_features)
    written = pq.read_table(path)
    assert written.column_names == output_columns("invoice")
    assert written["invoice_id"].to_pylist() == invoice_features["invoice_id"].tolist()
    assert written["late_share_90d"].to_numpy().tolist() == pytest.approx(
        invoice_features["late_share_90d"].tolist(), nan_ok=True)


def test_builders_leave_the_ledger_connection_as_they_found_it(ledger):
    before = ledger.rows("SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                         "ORDER BY ALL")
    build_snapshot(ledger, AS_OF)
    build_invoice_features(ledger, chunk_invoices=1000)
    after = ledger.rows("SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                        "ORDER BY ALL")
    assert before == after


def test_dates_must_be_dates(ledger):
    with pytest.raises(TypeError, match="datetime.date"):
        build_snapshot(ledger, "2025-01-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="datetime.date"):
        build_customer_features(ledger, dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="chunk_invoices"):
        build_invoice_features(ledger, chunk_invoices=0)
