"""Tests of the synthetic ledger generator: determinism, contract, invariants, realism, writing."""

from __future__ import annotations

import datetime
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ledger import synthetic
from ledger.schema import TABLES
from ledger.synthetic import (
    ARROW_TYPES,
    TABLE_NAMES,
    TRUTH_SCHEMAS,
    SyntheticConfig,
    figures,
    generate_ledger,
    write_ledger,
)

START = datetime.date(2024, 1, 1)
SMALL = SyntheticConfig(customers=300, months=18, seed=7)
SMALL_END = datetime.date(2025, 7, 1)
SHOCKED = SyntheticConfig(customers=800, months=24, seed=11, shock_month=13)
SHOCK_START = datetime.date(2025, 1, 1)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ledger() -> dict[str, pa.Table]:
    return generate_ledger(SMALL)


@pytest.fixture(scope="module")
def frames(ledger: dict[str, pa.Table]) -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in ledger.items()}


def invoice_status(frames: dict[str, pd.DataFrame], end: datetime.date) -> pd.DataFrame:
    """Per invoice: applied amount, settlement date (last payment/credit when settled),
    payment count, p_late_true, and the lateness observable at the ledger end."""
    inv = frames["invoices"].merge(frames["truth_invoices"], on="invoice_id")
    events = pd.concat([
        frames["payments"][["invoice_id", "payment_date", "amount"]].rename(
            columns={"payment_date": "day"}),
        frames["credit_notes"][["invoice_id", "issue_date", "amount"]].rename(
            columns={"issue_date": "day"}),
    ])
    agg = events.groupby("invoice_id").agg(applied=("amount", "sum"), last_day=("day", "max"))
    pay_count = frames["payments"].groupby("invoice_id").size().rename("payments")
    inv = inv.join(agg, on="invoice_id").join(pay_count, on="invoice_id")
    inv["applied"] = inv["applied"].fillna(0.0)
    inv["payments"] = inv["payments"].fillna(0).astype(int)
    inv["settled"] = inv["applied"] >= inv["amount"] - 0.005
    inv["settle_day"] = inv["last_day"].where(inv["settled"])
    inv["matured"] = inv["due_date"] < end
    inv["late"] = ~inv["settled"] | (inv["settle_day"] > inv["due_date"])
    return inv


@pytest.fixture(scope="module")
def status(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return invoice_status(frames, SMALL_END)


@pytest.fixture(scope="module")
def shocked_status() -> pd.DataFrame:
    frames = {name: table.to_pandas() for name, table in generate_ledger(SHOCKED).items()}
    return invoice_status(frames, datetime.date(2026, 1, 1))


def cents(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy() * 100).astype(np.int64)


# --------------------------------------------------------------------------- determinism


def test_same_config_writes_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    write_ledger(generate_ledger(SMALL), tmp_path / "a")
    write_ledger(generate_ledger(SMALL), tmp_path / "b")
    other = SyntheticConfig(customers=SMALL.customers, months=SMALL.months, seed=SMALL.seed + 1)
    write_ledger(generate_ledger(other), tmp_path / "c")
    for name in TABLE_NAMES:
        first = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        assert first == (tmp_path / "b" / f"{name}.parquet").read_bytes(), name
    for name in ("customers", "invoices", "payments", "truth_invoices"):
        assert (tmp_path / "a" / f"{name}.parquet").read_bytes() != (
            tmp_path / "c" / f"{name}.parquet").read_bytes(), name


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"customers": 0, "months": 12}, "customers"),
    ({"customers": -5, "months": 12}, "customers"),
    ({"customers": 10, "months": 0}, "months"),
    ({"customers": 10, "months": 12, "shock_month": 0}, "shock_month"),
    ({"customers": 10, "months": 12, "shock_month": 13}, "shock_month"),
    ({"customers": 10, "months": 12, "seed": -1}, "seed"),
    ({"customers": 10, "months": 12, "existing_share": 1.5}, "existing_share"),
    ({"customers": 10, "months": 12, "invoices_per_month": 0.0}, "invoices_per_month"),
    ({"customers": 2.5, "months": 12}, "customers"),
])
def test_bad_config_names_field_and_allowed_values(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"SyntheticConfig\.{field} must be .+, got"):
        SyntheticConfig(**kwargs)


def test_shock_month_error_names_allowed_range() -> None:
    with pytest.raises(ValueError, match=r"1\.\.12"):
        SyntheticConfig(customers=10, months=12, shock_month=20)


# --------------------------------------------------------------------------- contract


def test_tables_have_contract_columns_and_arrow_types(ledger: dict[str, pa.Table]) -> None:
    assert set(ledger) == set(TABLE_NAMES) == set(TABLES) | set(TRUTH_SCHEMAS)
    for name, spec in TABLES.items():
        expected = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in spec.columns])
        assert ledger[name].schema.equals(expected), name
    for name, schema in TRUTH_SCHEMAS.items():
        assert ledger[name].schema.equals(schema), name


def test_all_tables_have_rows_and_optional_columns_are_filled(ledger: dict[str, pa.Table]
                                                             ) -> None:
    for name, table in ledger.items():
        assert table.num_rows > 0, name
    for name, spec in TABLES.items():
        for column in spec.columns:
            if column.name in ("resolved_date", "kept", "po_number", "paperless"):
                continue
            assert ledger[name][column.name].null_count == 0, (name, column.name)
    assert 0 < ledger["invoices"]["po_number"].null_count < ledger["invoices"].num_rows
    assert ledger["invoices"]["paperless"].null_count == ledger["invoices"].num_rows


@pytest.mark.parametrize(("table", "pattern"), [
    ("customers", r"C\d{6}"), ("invoices", r"INV\d{8}"), ("payments", r"PAY\d{8}"),
    ("credit_notes", r"CN\d{8}"), ("disputes", r"DSP\d{8}"), ("promises", r"PRM\d{8}"),
])
def test_ids_are_unique_and_formatted(frames: dict[str, pd.DataFrame], table: str,
                                      pattern: str) -> None:
    ids = frames[table][TABLES[table].key]
    assert ids.is_unique
    assert ids.str.fullmatch(pattern).all()


def test_references_resolve_and_customers_match(frames: dict[str, pd.DataFrame]) -> None:
    customers = frames["customers"].set_index("customer_id")
    invoices = frames["invoices"].set_index("invoice_id")
    assert invoices["customer_id"].isin(customers.index).all()
    assert (invoices["currency"] == customers.loc[invoices["customer_id"], "currency"].to_numpy()
            ).all()
    for table in ("payments", "credit_notes", "promises"):
        facts = frames[table]
        assert facts["invoice_id"].isin(invoices.index).all(), table
        assert (facts["customer_id"].to_numpy()
                == invoices.loc[facts["invoice_id"], "customer_id"].to_numpy()).all(), table
    assert frames["disputes"]["invoice_id"].isin(invoices.index).all()
    assert set(frames["fx_rates"]["currency"]) == set(customers["currency"])
    assert (frames["fx_rates"].set_index("currency").loc["USD", "rate_to_base"] == 1.0)


def test_customer_attributes_are_plausible(frames: dict[str, pd.DataFrame]) -> None:
    customers = frames["customers"]
    assert set(customers["payment_terms_days"]) <= {15, 30, 45, 60, 90}
    assert customers["payment_terms_days"].nunique() >= 4
    assert customers["industry"].nunique() == 8
    assert set(customers["segment"]) >= {"small", "mid", "large"}
    assert (customers["credit_limit"] > 0).all()
    assert customers["currency"].nunique() >= 4
    created = customers["created_date"]
    assert (created < START - datetime.timedelta(days=365)).mean() > 0.3
    assert ((created >= START) & (created < SMALL_END)).mean() > 0.1


def test_invoices_follow_their_customer(frames: dict[str, pd.DataFrame]) -> None:
    inv = frames["invoices"].merge(frames["customers"], on="customer_id")
    assert (inv["issue_date"] >= inv["created_date"]).all()
    terms = (pd.to_datetime(inv["due_date"]) - pd.to_datetime(inv["issue_date"])).dt.days
    assert (terms == inv["payment_terms_days"]).all()
    assert inv["invoice_id"].is_monotonic_increasing
    assert pd.Series(inv.sort_values("invoice_id")["issue_date"]).is_monotonic_increasing


# --------------------------------------------------------------------------- invariants


def test_facts_are_dated_after_their_invoice(frames: dict[str, pd.DataFrame]) -> None:
    issue = frames["invoices"].set_index("invoice_id")["issue_date"]
    due = frames["invoices"].set_index("invoice_id")["due_date"]
    assert (due >= issue).all()
    for table, column in [("payments", "payment_date"), ("credit_notes", "issue_date"),
                          ("disputes", "opened_date"), ("promises", "created_date")]:
        facts = frames[table]
        assert (facts[column].to_numpy() >= issue.loc[facts["invoice_id"]].to_numpy()).all()
    disputes = frames["disputes"].dropna(subset=["resolved_date"])
    assert (disputes["resolved_date"] > disputes["opened_date"]).all()
    promises = frames["promises"]
    assert (promises["promised_date"] >= promises["created_date"]).all()
    assert (promises["created_date"].to_numpy()
            > due.loc[promises["invoice_id"]].to_numpy()).all(), "promises are on overdue"


def test_nothing_is_dated_on_or_after_the_ledger_end(frames: dict[str, pd.DataFrame]) -> None:
    for table, column in [("invoices", "issue_date"), ("payments", "payment_date"),
                          ("credit_notes", "issue_date"), ("disputes", "opened_date"),
                          ("disputes", "resolved_date"), ("promises", "created_date")]:
        dates = frames[table][column].dropna()
        assert (dates < SMALL_END).all(), (table, column)
        assert (dates >= START).all(), (table, column)
    assert frames["disputes"]["resolved_date"].isna().any()


def test_amounts_are_positive_cents_and_never_overapplied(frames: dict[str, pd.DataFrame],
                                                          status: pd.DataFrame) -> None:
    for table in ("invoices", "payments", "credit_notes", "promises"):
        amount = frames[table]["amount"]
        assert (amount > 0).all(), table
        assert np.allclose(amount * 100, np.rint(amount * 100), atol=1e-6), table
    applied = (frames["payments"].groupby("invoice_id")["amount"].apply(cents).map(sum)
               .add(frames["credit_notes"].groupby("invoice_id")["amount"].apply(cents)
                    .map(sum), fill_value=0))
    owed = pd.Series(cents(frames["invoices"]["amount"]),
                     index=frames["invoices"]["invoice_id"])
    assert (applied <= owed.loc[applied.index]).all()
    assert (applied == owed.loc[applied.index]).mean() > 0.8
    assert status["settled"].mean() > 0.8


def test_promise_kept_flags_agree_with_payments(frames: dict[str, pd.DataFrame],
                                                status: pd.DataFrame) -> None:
    promises = frames["promises"].merge(status[["invoice_id", "settle_day"]], on="invoice_id")
    unknown = promises["kept"].isna()
    assert (unknown == (promises["promised_date"] >= SMALL_END)).all()
    kept = promises[promises["kept"].eq(True)]
    broken = promises[~unknown & promises["kept"].eq(False)]
    assert len(kept) > 20 and len(broken) > 20
    assert (kept["settle_day"] <= kept["promised_date"]).all()
    assert (broken["settle_day"].isna() | (broken["settle_day"] > broken["promised_date"])).all()


def test_disputes_are_resolved_before_settlement(frames: dict[str, pd.DataFrame],
                                                 status: pd.DataFrame) -> None:
    disputes = frames["disputes"].merge(status, on="invoice_id")
    settled = disputes[disputes["settled"]]
    assert len(settled) > 20
    assert settled["resolved_date"].notna().all()
    assert (settled["resolved_date"] <= settled["settle_day"]).all()
    on_time = settled[~settled["late"]]
    assert len(on_time) > 5
    assert (on_time["resolved_date"] <= on_time["due_date"]).all()
    late_share_disputed = disputes.loc[disputes["matured"], "late"].mean()
    assert late_share_disputed > status.loc[status["matured"], "late"].mean() + 0.2


# --------------------------------------------------------------------------- realism


def test_realistic_shares(frames: dict[str, pd.DataFrame], status: pd.DataFrame) -> None:
    matured = status[status["matured"]]
    assert 0.15 <= matured["late"].mean() <= 0.45
    assert 0.15 <= matured.loc[matured["settled"], "late"].mean() <= 0.45
    partial = (status["payments"] >= 2) | ((status["applied"] > 0) & ~status["settled"])
    assert 0.03 <= partial.mean() <= 0.20
    assert 0.01 <= status["invoice_id"].isin(frames["disputes"]["invoice_id"]).mean() <= 0.10
    assert 0.005 <= status["invoice_id"].isin(frames["credit_notes"]["invoice_id"]).mean() <= 0.1
    assert 0.01 <= status["invoice_id"].isin(frames["promises"]["invoice_id"]).mean() <= 0.15
    defaulted = frames["truth_customers"]["default_date"].notna().mean()
    assert 0.005 <= defaulted <= 0.10
    invoices_per_customer_month = len(status) / (SMALL.customers * SMALL.months)
    assert 1.5 <= invoices_per_customer_month <= 3.0


def test_late_invoices_are_paid_later_by_less_creditworthy_customers(
        frames: dict[str, pd.DataFrame], status: pd.DataFrame) -> None:
    late = status[status["settled"] & status["late"]].merge(
        frames["truth_customers"], on="customer_id")
    days_late = (pd.to_datetime(late["settle_day"]) - pd.to_datetime(late["due_date"])).dt.days
    assert (days_late >= 1).all()
    weak = late["creditworthiness_end"] < late["creditworthiness_end"].median()
    assert days_late[weak].mean() > days_late[~weak].mean()


def test_late_share_rises_after_a_shock(shocked_status: pd.DataFrame) -> None:
    matured = shocked_status[shocked_status["matured"]]
    after = matured["issue_date"] >= SHOCK_START
    assert matured.loc[after, "late"].mean() > matured.loc[~after, "late"].mean() + 0.08


def test_late_payments_take_longer_after_a_shock(shocked_status: pd.DataFrame) -> None:
    late = shocked_status[shocked_status["settled"] & shocked_status["late"]]
    days_late = (pd.to_datetime(late["settle_day"]) - pd.to_datetime(late["due_date"])).dt.days
    due_after = late["due_date"] >= SHOCK_START
    assert days_late[due_after].mean() > 1.15 * days_late[~due_after].mean()
    assert (days_late[due_after] > 5).mean() > (days_late[~due_after] > 5).mean() + 0.05


def test_on_time_invoices_are_paid_by_due_some_early(status: pd.DataFrame) -> None:
    on_time = status[status["settled"] & ~status["late"]]
    days_early = (pd.to_datetime(on_time["due_date"])
                  - pd.to_datetime(on_time["settle_day"])).dt.days
    assert (days_early >= 0).all()
    assert 0.1 < (days_early >= 5).mean() < 0.6
    assert (days_early <= 3).mean() > 0.4


def test_shock_changes_the_mix_of_new_customers() -> None:
    config = SyntheticConfig(customers=4000, months=24, seed=3, shock_month=7,
                             existing_share=0.0)
    customers = generate_ledger(config)["customers"].to_pandas()
    risky = customers["industry"].isin(["construction", "hospitality", "retail"])
    after = customers["created_date"] >= datetime.date(2024, 7, 1)
    assert risky[after].mean() > risky[~after].mean() + 0.05
    assert (customers.loc[after, "segment"] == "small").mean() > (
        customers.loc[~after, "segment"] == "small").mean()


def test_defaulted_customers_stop_paying_and_buying(frames: dict[str, pd.DataFrame],
                                                    status: pd.DataFrame) -> None:
    defaults = frames["truth_customers"].dropna(subset=["default_date"]).set_index(
        "customer_id")["default_date"]
    assert len(defaults) >= 3
    for table, column in [("payments", "payment_date"), ("credit_notes", "issue_date"),
                          ("invoices", "issue_date"), ("promises", "created_date")]:
        facts = frames[table][frames[table]["customer_id"].isin(defaults.index)]
        assert (facts[column].to_numpy() < defaults.loc[facts["customer_id"]].to_numpy()).all()
    theirs = status[status["customer_id"].isin(defaults.index)]
    doomed = theirs["due_date"].to_numpy() >= defaults.loc[theirs["customer_id"]].to_numpy()
    assert doomed.sum() > 0
    assert (theirs.loc[doomed, "p_late_true"] == 1.0).all()
    assert (~theirs.loc[doomed, "settled"]).all()


def test_observed_lateness_matches_p_late_true(status: pd.DataFrame) -> None:
    matured = status[status["matured"]]
    p, late = matured["p_late_true"].to_numpy(), matured["late"].to_numpy()
    standard_error = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(late.mean() - p.mean()) < 4 * standard_error + 1e-3
    decile = pd.qcut(p, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"p": p, "late": late, "decile": decile}).groupby("decile").mean()
    assert by_decile["late"].iloc[-1] > by_decile["late"].iloc[0] + 0.3
    assert np.corrcoef(by_decile["p"], by_decile["late"])[0, 1] > 0.97
    assert (abs(by_decile["late"] - by_decile["p"]) < 0.06).all()


def test_ledger_shows_exactly_the_simulated_lateness(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every matured invoice looks late in the ledger iff the simulator drew it late."""
    drawn: list[np.ndarray] = []
    real_draw = synthetic._draw_lateness

    def recording_draw(*args: object) -> synthetic._Invoices:
        invoices = real_draw(*args)
        drawn.append(invoices.late)
        return invoices

    monkeypatch.setattr(synthetic, "_draw_lateness", recording_draw)
    frames = {name: table.to_pandas() for name, table in generate_ledger(SMALL).items()}
    status = invoice_status(frames, SMALL_END)
    matured = status["matured"].to_numpy()
    assert matured.sum() > 5000
    assert (status["late"].to_numpy()[matured] == drawn[0][matured]).all()


def test_truth_tables_cover_every_invoice_and_customer(ledger: dict[str, pa.Table]) -> None:
    assert ledger["truth_invoices"]["invoice_id"].equals(ledger["invoices"]["invoice_id"])
    assert ledger["truth_customers"]["customer_id"].equals(ledger["customers"]["customer_id"])
    p = ledger["truth_invoices"]["p_late_true"].to_numpy()
    assert ((p > 0) & (p <= 1)).all()
    assert np.isfinite(ledger["truth_customers"]["creditworthiness_end"].to_numpy()).all()


# --------------------------------------------------------------------------- writing


def test_write_ledger_writes_every_table(tmp_path: Path, ledger: dict[str, pa.Table]) -> None:
    write_ledger(ledger, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{name}.parquet" for name in TABLE_NAMES)
    assert pq.read_table(tmp_path / "out" / "invoices.parquet").equals(ledger["invoices"])
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary directory left"


def test_failed_write_keeps_the_existing_ledger(tmp_path: Path, ledger: dict[str, pa.Table],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    old = {"customers": ledger["customers"], "invoices": ledger["invoices"]}
    write_ledger(old, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_write = pq.write_table
    calls: list[str] = []

    def failing_write(table: pa.Table, where: Path, **kwargs: object) -> None:
        calls.append(str(where))
        if len(calls) == 3:
            raise OSError("disk full")
        real_write(table, where, **kwargs)

    monkeypatch.setattr(synthetic.pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        write_ledger(ledger, out)
    assert len(calls) == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary directory left"


def test_failed_swap_restores_the_existing_ledger(tmp_path: Path, ledger: dict[str, pa.Table],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_ledger({"fx_rates": ledger["fx_rates"]}, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from ledger import atomic

    def failing_exchange(first: Path, second: Path) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(atomic, "exchange", failing_exchange)
    with pytest.raises(OSError, match="rename failed"):
        write_ledger(ledger, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary directory left"


def test_failed_write_leaves_no_new_directory(tmp_path: Path, ledger: dict[str, pa.Table],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_write(table: pa.Table, where: Path, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(synthetic.pq, "write_table", failing_write)
    with pytest.raises(OSError):
        write_ledger(ledger, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_to_replace_a_foreign_directory(tmp_path: Path,
                                                      ledger: dict[str, pa.Table]) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        write_ledger(ledger, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_write_replaces_an_existing_ledger(tmp_path: Path, ledger: dict[str, pa.Table]) -> None:
    out = tmp_path / "out"
    write_ledger({"fx_rates": ledger["fx_rates"]}, out)
    write_ledger({"customers": ledger["customers"]}, out)
    assert [p.name for p in out.iterdir()] == ["customers.parquet"]



@pytest.mark.parametrize("config", [
    SyntheticConfig(customers=1, months=1),
    SyntheticConfig(customers=3, months=1, seed=4, shock_month=1),
    SyntheticConfig(customers=40, months=13, start_date=datetime.date(2023, 1, 31)),
])
def test_edge_configs_keep_the_contract(config: SyntheticConfig) -> None:
    tables = generate_ledger(config)
    end = synthetic._add_months(config.start_date, config.months)
    for name, spec in TABLES.items():
        assert tables[name].schema.names == spec.column_names, name
    assert tables["customers"].num_rows == config.customers
    for table, column in [("invoices", "issue_date"), ("payments", "payment_date"),
                          ("promises", "created_date")]:
        dates = tables[table][column].to_pylist()
        assert all(config.start_date <= d < end for d in dates), (table, column)


# --------------------------------------------------------------------------- payment calendar

CALENDAR = SyntheticConfig(customers=1500, months=30, seed=5)
CALENDAR_END = datetime.date(2026, 7, 1)


@pytest.fixture(scope="module")
def calendar_ledger() -> dict[str, pa.Table]:
    """About 100k invoices."""
    return generate_ledger(CALENDAR)


@pytest.fixture(scope="module")
def calendar_payments(calendar_ledger: dict[str, pa.Table]) -> pd.DataFrame:
    """Payments with their customer's country and (true) payment habit."""
    customers = calendar_ledger["customers"].to_pandas().set_index("customer_id")
    truth = calendar_ledger["truth_customers"].to_pandas().set_index("customer_id")
    payments = calendar_ledger["payments"].to_pandas()
    payments = payments.join(customers["country"], on="customer_id").join(truth,
                                                                           on="customer_id")
    payments["day"] = pd.to_datetime(payments["payment_date"])
    return payments


def test_late_share_per_p_late_bin_matches_within_binomial_error(
        calendar_ledger: dict[str, pa.Table]) -> None:
    """p_late_true, calendar terms included, is the probability of being paid late."""
    settled = figures.settlement_days(calendar_ledger)
    truth = calendar_ledger["truth_invoices"].to_pandas().set_index("invoice_id")
    matured = settled[settled["due_date"] < pd.Timestamp(CALENDAR_END)].join(truth)
    assert len(matured) > 90_000
    late = (matured["settle_date"].isna() | (matured["settle_date"] > matured["due_date"]))
    frame = pd.DataFrame({"p": matured["p_late_true"], "late": late,
                          "bin": pd.qcut(matured["p_late_true"], 20, labels=False,
                                         duplicates="drop")})
    bins = frame.groupby("bin").agg(p=("p", "mean"), late=("late", "mean"), n=("p", "size"),
                                    variance=("p", lambda p: float(np.sum(p * (1 - p)))))
    assert len(bins) >= 15
    assert bins["p"].iloc[0] < 0.15 and bins["p"].iloc[-1] > 0.75
    error = np.sqrt(bins["variance"]) / bins["n"]
    assert (abs(bins["late"] - bins["p"]) <= 4 * error + 1e-9).all(), bins


def test_payments_fall_on_business_days_and_weekend_due_invoices_are_paid_late_more_often(
        calendar_ledger: dict[str, pa.Table]) -> None:
    shown = figures.payment_figures(calendar_ledger, CALENDAR_END)
    assert shown["weekend_payment_share"] <= 0.001
    assert shown["late_share_due_weekend"] >= shown["late_share_due_weekday"] + 0.12
    by_weekday = shown["late_share_by_due_weekday"]
    assert min(by_weekday["Sat"], by_weekday["Sun"]) > max(
        by_weekday[day] for day in ("Mon", "Tue", "Wed", "Thu", "Fri"))
    timing = shown["timing"]
    assert 0.3 <= shown["late_share"] <= 0.5
    assert timing["on_due"] >= 0.12 and timing["late_1_5"] > timing["late_6_30"]
    truth = calendar_ledger["truth_invoices"]["p_late_true"].to_numpy()
    due = pd.to_datetime(calendar_ledger["invoices"]["due_date"].to_pandas())
    weekend = (due.dt.weekday >= 5).to_numpy()
    assert truth[weekend].mean() > truth[~weekend].mean() + 0.1, "the truth knows the calendar"


def test_payments_avoid_public_holidays_of_the_customers_country(
        calendar_payments: pd.DataFrame) -> None:
    closed = {(country, day) for country in calendar_payments["country"].unique()
              for day in holidays.country_holidays(country, years=range(2024, 2027))}
    on_holiday = [(country, day) in closed for country, day in zip(
        calendar_payments["country"], calendar_payments["payment_date"], strict=True)]
    assert len(closed) > 50
    assert np.mean(on_holiday) <= 0.001
    christmas = calendar_payments["day"].dt.strftime("%m-%d").isin(["12-25", "01-01"])
    assert not christmas.any()


def test_payment_habits_show_in_the_payment_days(calendar_payments: pd.DataFrame) -> None:
    """Weekly payers pay on their run weekday (a day later with a bank lag), month-end and
    twice-monthly payers around their run days, payers without a habit on any weekday."""
    habit = calendar_payments["payment_habit"]
    assert set(habit) == {"weekly", "twice_monthly", "month_end", "none"}
    weekly = calendar_payments[habit == "weekly"]
    expected = (weekly["run_weekday"] + weekly["bank_lag_days"]) % 5
    assert (weekly["day"].dt.weekday == expected).mean() >= 0.9
    assert weekly["bank_lag_days"].eq(1).mean() > 0.1
    day_of_month = calendar_payments["day"].dt.day
    near_month_end = (day_of_month >= 28) | (day_of_month <= 5)
    assert near_month_end[habit == "month_end"].mean() >= 0.95
    near_runs = near_month_end | day_of_month.between(15, 19)
    assert near_runs[habit == "twice_monthly"].mean() >= 0.95
    assert near_month_end[habit == "none"].mean() < 0.5
    none_weekdays = calendar_payments.loc[habit == "none", "day"].dt.weekday
    assert (none_weekdays.value_counts(normalize=True).reindex(range(5)) > 0.1).all()
