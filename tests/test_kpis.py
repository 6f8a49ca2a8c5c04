"""Receivables KPIs (`features.kpis`, `o2c kpis`, `/kpis`, the monitoring summary) against
hand-computed values and an independent computation in plain Python loops over the rows."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.kpis import UNASSIGNED, kpi_components, kpi_figures, kpi_report, kpi_trend
from ledger import ledger_from_frames, load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from serving.workflow.config import WorkflowConfig
from tests.conftest import API_AS_OF, facts_before, tiny_ledger_frames, write_frames

runner = CliRunner()
D = dt.date(2024, 3, 20)
"""As-of date of the hand-made ledger."""


# ------------------------------------------------------------------ the hand-made ledger


def hand_frames() -> dict[str, pd.DataFrame]:
    """conftest's tiny ledger (C1 in EUR at 1.0, C2 in USD at 0.9) plus: invoices exactly 30
    and 31 days past due and one due on D, a payment dated on D, a prepayment of an invoice
    issued after D, a customer without invoices or segment,
    a kept, a broken, an invoice-less broken and a not-yet-due promise, and disputes open,
    resolved on D and resolved before D."""
    frames = tiny_ledger_frames()
    customers = frames["customers"]
    customers.loc[2] = {"customer_id": "C3", "country": "FR", "currency": "EUR",
                        "payment_terms_days": 30, "credit_limit": float("nan"),
                        "name": "Gamma SA", "industry": "retail", "segment": None,
                        "created_date": pd.Timestamp("2023-01-01")}
    frames["invoices"] = pd.concat([frames["invoices"], pd.DataFrame({
        "invoice_id": ["I5", "I6", "I7", "I8"], "customer_id": ["C1", "C2", "C2", "C2"],
        "issue_date": pd.to_datetime(["2024-03-25", "2024-01-10", "2024-01-10",
                                      "2024-02-20"]),
        "due_date": pd.to_datetime(["2024-04-24", "2024-02-19", "2024-02-18", "2024-03-20"]),
        "amount": [500.0, 100.0, 200.0, 100.0],
        "currency": ["EUR", "USD", "USD", "USD"]})], ignore_index=True)
    # P3 (900 on I3) is dated 2024-03-20 = D: not yet counted. P4 prepays I5 before D.
    frames["payments"] = pd.DataFrame({
        "payment_id": ["P1", "P2", "P3", "P4"],
        "invoice_id": ["I1", "I3", "I3", "I5"],
        "customer_id": ["C1", "C2", "C2", "C1"],
        "payment_date": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-03-20",
                                        "2024-03-18"]),
        "amount": [1000.0, 1000.0, 900.0, 200.0],
    })
    frames["promises"] = pd.DataFrame({
        "promise_id": ["R1", "R2", "R3", "R4"],
        "customer_id": ["C2", "C1", "C1", "C1"],
        "created_date": pd.to_datetime(["2024-03-08", "2024-01-25", "2024-03-10",
                                        "2024-02-15"]),
        "promised_date": pd.to_datetime(["2024-03-15", "2024-02-05", "2024-03-25",
                                         "2024-02-28"]),
        "amount": [900.0, 1000.0, 500.0, 100.0],
        "invoice_id": ["I3", "I1", "I2", None],
        "kept": [True, False, None, True],  # recorded, and not read: judged from payments
    })
    frames["disputes"] = pd.DataFrame({
        "dispute_id": ["D1", "D2", "D3"],
        "invoice_id": ["I2", "I3", "I1"],
        "opened_date": pd.to_datetime(["2024-02-20", "2024-01-25", "2024-01-10"]),
        "resolved_date": pd.to_datetime([None, "2024-03-20", "2024-02-01"]),
    })
    return frames


def test_hand_computed_figures() -> None:
    """As of 2024-03-20, in EUR (USD at 0.9):
    C1: I1 1000 paid 02-01 -> 0; I2 500 due 03-11 unpaid -> 500, 9 days past due (1-30);
        I5 is issued after D, so its prepayment P4 changes nothing.
    C2: I3 2000 due 03-05, paid 1000 (03-01), credited 100 (03-10), P3 on D not counted
        -> 900 x 0.9 = 810, 15 days past due; I4 750 due 04-15 -> 675 current; I6 100 30
        days past due -> 90 (1-30); I7 200 31 days past due -> 180 (31-60); I8 100 due on D
        -> 90 current.
    AR 500 + 810 + 675 + 90 + 180 + 90 = 2345, current 765, 1-30 1400, 31-60 180;
    sales 2023-12-21..2024-03-19 = 1500 + 3150 x 0.9 = 4335; AR 90 days before
    (2023-12-21) 0. DSO = 2345 / 4335 x 90, best = 765 / 4335 x 90, ADD = 1580 / 4335 x 90,
    CEI = (0 + 4335 - 2345) / (0 + 4335 - 765) x 100.
    Promises due 2023-12-21..2024-03-19: R2 kept (P1 1000 on 02-01 covers it), R1 broken
    (nothing paid on I3 from 03-08 to 03-15; a credit note is not a payment), R4 broken
    (no payment of C1 from 02-15 to 02-28); R3 is due after D. 1 of 3.
    Disputes open at D: D1 (29 days), D2 (resolved on D, so still open: 55 days)."""
    ledger = ledger_from_frames(hand_frames())
    figures = kpi_report(kpi_components(ledger, D), D)
    assert figures["currency"] == "EUR" and figures["customers"] == 3
    assert figures["ar"] == 2345.00 and figures["current_ar"] == 765.00
    assert figures["sales_90d"] == 4335.00 and figures["ar_90d_ago"] == 0.0
    assert figures["aging"] == {"current": 765.0, "1-30": 1400.0, "31-60": 180.0,
                                "61-90": 0.0, "90+": 0.0}
    assert figures["aging_share"]["1-30"] == round(1400 / 2345, 4)
    assert figures["dso"] == round(2345 / 4335 * 90, 2) == 48.69
    assert figures["best_dso"] == round(765 / 4335 * 90, 2)
    assert figures["add"] == round(1580 / 4335 * 90, 2)
    assert figures["cei"] == round(1990 / 3570 * 100, 2)
    assert (figures["promises_due"], figures["promises_kept"]) == (3, 1)
    assert figures["promise_kept_share"] == 0.3333
    assert figures["disputes_open"] == 2
    assert figures["dispute_age_mean_days"] == 42.0 and figures["dispute_age_max_days"] == 55


def test_hand_computed_groups_and_no_sales() -> None:
    """By segment: small = C1, mid = C2, (none) = C3 without invoices: no sales, so DSO,
    best DSO, ADD and CEI are n/a (None), not a division by zero."""
    ledger = ledger_from_frames(hand_frames())
    groups = {g["group"]: g for g in kpi_report(kpi_components(ledger, D), D, "segment")
              ["groups"]}
    assert list(groups) == ["mid", "small", "(none)"]  # largest AR first
    small, mid, none = groups["small"], groups["mid"], groups["(none)"]
    assert (small["ar"], small["sales_90d"], small["dso"], small["best_dso"]) == \
        (500.0, 1500.0, 30.0, 0.0)
    assert small["cei"] == round(1000 / 1500 * 100, 2) and small["promise_kept_share"] == 0.5
    assert (mid["ar"], mid["current_ar"], mid["sales_90d"]) == (1845.0, 765.0, 2835.0)
    assert (mid["dso"], mid["best_dso"], mid["add"], mid["cei"]) == (
        round(1845 / 2835 * 90, 2), round(765 / 2835 * 90, 2), round(1080 / 2835 * 90, 2),
        round(990 / 2070 * 100, 2))
    assert mid["promise_kept_share"] == 0.0 and mid["dispute_age_max_days"] == 55
    assert none["ar"] == 0.0 and none["customers"] == 1
    for key in ("dso", "best_dso", "add", "cei", "promise_kept_share",
                "dispute_age_mean_days", "dispute_age_max_days"):
        assert none[key] is None, key


def test_groups_by_owning_collector_and_unassigned() -> None:
    """By collector: ann owns C1 and C3 (their parts add up), C2 has no owner: unassigned;
    without the owners the grouping is refused."""
    ledger = ledger_from_frames(hand_frames())
    components = kpi_components(ledger, D)
    groups = {g["group"]: g for g in kpi_report(components, D, "collector",
                                                {"C1": "ann", "C3": "ann"})["groups"]}
    by_segment = {g["group"]: g for g in kpi_report(components, D, "segment")["groups"]}
    assert list(groups) == [UNASSIGNED, "ann"]  # largest AR first
    assert {**groups[UNASSIGNED], "group": "mid"} == by_segment["mid"]
    assert groups["ann"]["customers"] == 2 and groups["ann"]["ar"] == 500.0
    assert groups["ann"]["sales_90d"] == by_segment["small"]["sales_90d"]
    with pytest.raises(ValueError, match="owners"):
        kpi_report(components, D, "collector")


def test_before_any_invoice_everything_is_na() -> None:
    ledger = ledger_from_frames(hand_frames())
    figures = kpi_figures(kpi_components(ledger, dt.date(2024, 1, 1)))
    assert figures["ar"] == 0.0 and figures["sales_90d"] == 0.0
    assert figures["dso"] is None and figures["cei"] is None
    assert all(share is None for share in figures["aging_share"].values())


def test_cli_json_table_and_plot(tmp_path: Path) -> None:
    folder = write_frames(hand_frames(), tmp_path / "ledger")
    plot = tmp_path / "out" / "trend.png"
    result = runner.invoke(app, ["kpis", "--ledger", str(folder), "--as-of", D.isoformat(),
                                 "--by", "segment", "--plot", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["dso"] == 48.69 and last["cei"] == round(1990 / 3570 * 100, 2)
    assert last["aging"]["1-30"] == 1400.0 and last["promise_kept_share"] == 0.3333
    assert [g["group"] for g in last["groups"]] == ["mid", "small", "(none)"]
    assert "n/a" in result.output  # the (none) segment's DSO
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_before_any_sales_prints_na(tmp_path: Path) -> None:
    folder = write_frames(hand_frames(), tmp_path / "ledger")
    result = runner.invoke(app, ["kpis", "--ledger", str(folder), "--as-of", "2023-06-01",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert "DSO (days)" in result.output and "n/a" in result.output
    assert json.loads(result.output.strip().splitlines()[-1])["dso"] is None


@pytest.mark.parametrize(("args", "expected"), [
    (["--by", "region"], "customer, segment, country, collector"),
    (["--as-of", "2024-02-30"], "YYYY-MM-DD"),
    (["--as-of", "3024-01-01"], "2099-12-31"),
])
def test_cli_refuses_bad_options(tmp_path: Path, args: list[str], expected: str) -> None:
    folder = write_frames(hand_frames(), tmp_path / "ledger")
    base = ["kpis", "--ledger", str(folder), "--as-of", D.isoformat()]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_names_a_bad_ledger(tmp_path: Path) -> None:
    frames = hand_frames()
    frames["payments"].loc[0, "amount"] = -5.0
    folder = write_frames(frames, tmp_path / "ledger")
    result = runner.invoke(app, ["kpis", "--ledger", str(folder), "--as-of", D.isoformat()])
    assert result.exit_code == 1
    assert "payments.amount" in result.output and "P1" in result.output


# ------------------------------------------------------- independent computation (loops)


def independent(frames: dict[str, pd.DataFrame], day: dt.date) -> dict[str, dict]:
    """Per customer, by plain loops over the rows: AR, current AR, aging, AR 90 days before,
    sales, promises due and kept, open disputes and their ages, in the reporting currency."""
    window = day - dt.timedelta(days=90)
    rates = dict(zip(frames["fx_rates"]["currency"], frames["fx_rates"]["rate_to_base"],
                     strict=True))
    customers = {row.customer_id: row for row in frames["customers"].itertuples()}
    invoices = {row.invoice_id: row for row in frames["invoices"].itertuples()}
    of_customer = defaultdict(list)
    for invoice in invoices.values():
        of_customer[invoice.customer_id].append(invoice.invoice_id)
    applications = [(row.invoice_id, row.payment_date.date(), row.amount, True)
                    for row in frames["payments"].itertuples()]
    applications += [(row.invoice_id, row.issue_date.date(), row.amount, False)
                     for row in frames["credit_notes"].itertuples()]
    applied = defaultdict(list)  # invoice -> [(date counted from, cents, is payment)]
    for invoice_id, date, amount, is_payment in applications:
        issue = invoices[invoice_id].issue_date.date()
        applied[invoice_id].append((max(date, issue), round(amount * 100), is_payment))
    out = {cid: defaultdict(float) for cid in customers}
    for invoice in invoices.values():
        cents = round(invoice.amount * 100)
        issue, due = invoice.issue_date.date(), invoice.due_date.date()
        rate = rates.get(customers[invoice.customer_id].currency, 1.0)
        row = out[invoice.customer_id]
        if window <= issue < day:
            row["sales"] += cents * rate / 100
        for as_of, key in ((day, "ar"), (window, "ar_prev")):
            if issue < as_of:
                left = cents - sum(c for d, c, _ in applied[invoice.invoice_id] if d < as_of)
                row[key] += left * rate / 100
        if issue < day:
            left = cents - sum(c for d, c, _ in applied[invoice.invoice_id] if d < day)
            late = (day - due).days
            bucket = ("current" if late <= 0 else "1-30" if late <= 30 else "31-60"
                      if late <= 60 else "61-90" if late <= 90 else "90+")
            row[f"aging {bucket}"] += left * rate / 100
    for promise in frames["promises"].itertuples():
        made, promised = promise.created_date.date(), promise.promised_date.date()
        if not window <= promised < day:
            continue
        if isinstance(promise.invoice_id, str):
            covered = applied[promise.invoice_id]
            amount = round(invoices[promise.invoice_id].amount * 100)
            settled = sum(c for d, c, _ in covered if d <= promised) >= amount
        else:
            covered = [fact for iid in of_customer[promise.customer_id]
                       for fact in applied[iid]]
            settled = False
        paid = sum(c for d, c, is_payment in covered if is_payment and made <= d <= promised)
        row = out[promise.customer_id]
        row["due"] += 1
        row["kept"] += int(paid >= round(promise.amount * 100) or settled)
    for dispute in frames["disputes"].itertuples():
        opened, resolved = dispute.opened_date.date(), dispute.resolved_date
        if opened < day and (pd.isna(resolved) or resolved.date() >= day):
            row = out[invoices[dispute.invoice_id].customer_id]
            row["disputes"] += 1
            row["ages"] += (day - opened).days
            row["oldest"] = max(row["oldest"], (day - opened).days)
    return out


def expected_figures(rows: list[dict]) -> dict:
    """The KPIs of some customers' `independent` rows, by the issue's formulas."""
    total = defaultdict(float)
    for row in rows:
        for key, value in row.items():
            total[key] = math.fsum([total[key], value]) if key != "oldest" else \
                max(total[key], value)
    ar, current, sales, prev = (total["ar"], total["aging current"], total["sales"],
                                total["ar_prev"])
    dso = ar / sales * 90 if sales else None
    best = current / sales * 90 if sales else None
    return {"ar": ar, "current_ar": current, "sales_90d": sales, "ar_90d_ago": prev,
            "dso": dso, "best_dso": best, "add": None if dso is None else dso - best,
            "cei": (prev + sales - ar) / (prev + sales - current) * 100
            if prev + sales - current else None,
            "aging": {b: total[f"aging {b}"] for b in ("current", "1-30", "31-60", "61-90",
                                                       "90+")},
            "promise_kept_share": total["kept"] / total["due"] if total["due"] else None,
            "disputes_open": int(total["disputes"])}


def assert_same(actual: dict, expected: dict, where: str) -> None:
    """Amounts equal to the cent; days and CEI to their rounding (0.01); shares to 0.0001."""
    for key in ("ar", "current_ar", "sales_90d", "ar_90d_ago"):
        assert abs(actual[key] - expected[key]) <= 0.0051, (where, key)
    for bucket, amount in expected["aging"].items():
        assert abs(actual["aging"][bucket] - amount) <= 0.0051, (where, bucket)
    for key, tolerance in (("dso", 0.0051), ("best_dso", 0.0051), ("add", 0.0051),
                           ("cei", 0.0051), ("promise_kept_share", 0.00005)):
        if expected[key] is None:
            assert actual[key] is None, (where, key)
        else:
            assert abs(actual[key] - expected[key]) <= tolerance, (where, key)
    assert actual["disputes_open"] == expected["disputes_open"], where


def test_independent_computation_agrees_on_the_hand_made_ledger() -> None:
    frames = hand_frames()
    by_customer = independent(frames, D)
    report = kpi_report(kpi_components(ledger_from_frames(frames), D), D, "customer")
    assert_same(report, expected_figures(list(by_customer.values())), "total")
    for group in report["groups"]:
        assert_same(group, expected_figures([by_customer[group["group"]]]), group["group"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """`o2c generate --customers 300 --months 18 --seed 3`: folder and tables."""
    folder = tmp_path_factory.mktemp("kpis") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=300, months=18, seed=3)), folder)
    ledger = load_ledger(folder)
    frames = {name: ledger.df(name) for name in ("customers", "invoices", "payments",
                                                 "credit_notes", "disputes", "promises",
                                                 "fx_rates")}
    ledger.close()
    return folder, frames


@pytest.mark.parametrize("day", [dt.date(2024, 11, 1), dt.date(2025, 6, 1)])
def test_independent_computation_agrees_on_a_generated_ledger(
    generated: tuple[Path, dict[str, pd.DataFrame]], day: dt.date,
) -> None:
    folder, frames = generated
    assert len(frames["fx_rates"]) > 1 and len(frames["promises"]) > 0
    by_customer = independent(frames, day)
    ledger = load_ledger(folder)
    components = kpi_components(ledger, day)
    ledger.close()
    report = kpi_report(components, day, "customer")
    assert_same(report, expected_figures(list(by_customer.values())), f"total {day}")
    assert report["promises_due"] > 20 and 0 < report["promise_kept_share"] < 1
    for group in report["groups"]:
        assert_same(group, expected_figures([by_customer[group["group"]]]), group["group"])
    segments = frames["customers"].set_index("customer_id")["segment"].fillna("(none)")
    for group in kpi_report(components, day, "segment")["groups"]:
        members = [by_customer[c] for c, s in segments.items() if s == group["group"]]
        assert_same(group, expected_figures(members), group["group"])


@pytest.mark.slow
def test_cli_groups_by_the_workflow_stores_owners(
    generated: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path,
) -> None:
    """`o2c kpis --by collector` reads the owners from the workflow store the settings name:
    each collector's figures equal the independent computation over their customers, the
    customers without an owner are "unassigned"."""
    from serving.workflow import users
    from serving.workflow.db import open_store
    from serving.workflow.ownership import owners
    from serving.workflow.tables import Owner
    from serving.workflow.users import add_user

    folder, frames = generated
    day = dt.date(2025, 6, 1)
    url = f"sqlite:///{tmp_path / 'workflow.db'}"
    store = open_store(url)
    for name in ("ann", "bob"):
        add_user(store, name, "collector")
    ids = sorted(frames["customers"]["customer_id"])
    with store.begin() as session:
        user_ids = {name: users.get_user(session, name).id for name in ("ann", "bob")}
        session.add_all(Owner(customer_id=c, user_id=user_ids["ann" if k % 3 else "bob"])
                        for k, c in enumerate(ids[:200]))
    owned = owners(store)
    store.engine.dispose()
    result = runner.invoke(app, ["kpis", "--ledger", str(folder), "--as-of", str(day),
                                 "--by", "collector", "--json"],
                           env={"O2C_DATABASE_URL": url, "O2C_WORKDIR": str(tmp_path / "w")})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    by_customer = independent(frames, day)
    assert {g["group"] for g in report["groups"]} == {"ann", "bob", UNASSIGNED}
    for group in report["groups"]:
        members = [by_customer[c] for c in ids if owned.get(c, UNASSIGNED) == group["group"]]
        assert group["customers"] == len(members)
        assert_same(group, expected_figures(members), group["group"])
    assert "By collector" in result.output


def test_facts_on_or_after_the_date_change_nothing(
    generated: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    _, frames = generated
    day = dt.date(2025, 2, 1)
    whole = kpi_report(kpi_components(ledger_from_frames(frames), day), day, "customer")
    known = kpi_report(kpi_components(ledger_from_frames(facts_before(frames, day)), day), day,
                       "customer")
    assert whole == known


def test_trend_points_are_the_figures_of_their_dates(
    generated: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    folder, _ = generated
    ledger = load_ledger(folder)
    day = dt.date(2025, 6, 1)
    trend = kpi_trend(ledger, day)
    assert len(trend) == 12
    assert list(trend["as_of"]) == [dt.date(2024, m, 1) for m in range(7, 13)] + \
        [dt.date(2025, m, 1) for m in range(1, 7)]
    for index in (0, 5, 11):
        point = trend.iloc[index]
        figures = kpi_figures(kpi_components(ledger, point["as_of"]))
        for key in ("ar", "current_ar", "sales_90d", "dso", "best_dso", "add", "cei"):
            assert point[key] == figures[key], (point["as_of"], key)
    ledger.close()


@pytest.mark.slow
def test_demo_ledger_figures_equal_the_independent_computation(tmp_path: Path) -> None:
    """The acceptance check: `make demo`'s ledger (1,500 customers, 30 months, seed 42,
    shock in month 25) as of 2026-06-01, through the CLI, to the cent."""
    folder = tmp_path / "demo-ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=1500, months=30, seed=42,
                                                 shock_month=25)), folder)
    result = runner.invoke(app, ["kpis", "--ledger", str(folder), "--as-of", "2026-06-01",
                                 "--by", "segment", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    ledger = load_ledger(folder)
    frames = {name: ledger.df(name) for name in ("customers", "invoices", "payments",
                                                 "credit_notes", "disputes", "promises",
                                                 "fx_rates")}
    ledger.close()
    by_customer = independent(frames, dt.date(2026, 6, 1))
    assert_same(report, expected_figures(list(by_customer.values())), "demo")
    segments = frames["customers"].set_index("customer_id")["segment"].fillna("(none)")
    for group in report["groups"]:
        members = [by_customer[c] for c, s in segments.items() if s == group["group"]]
        assert_same(group, expected_figures(members), group["group"])


# ----------------------------------------------------- the API and the monitoring summary

KEYS = {"kpi-collector-key-01": "collector", "kpi-admin-key-00001": "admin"}


@pytest.mark.slow
def test_api_serves_the_snapshot_dates_figures(api_workdir: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    """`GET /kpis` on the real server answers what `o2c kpis --json` prints for the
    snapshot's date, by country and by the store's collectors (on a copy of the working
    folder whose store gives some customers owners); a collector may read it; unknown
    groupings get 400."""
    import httpx

    from serving.local import running_server
    from serving.workflow.db import default_url, open_store
    from serving.workflow.ownership import assign_new, owners
    from serving.workflow.users import add_user

    ledger, shared = api_workdir
    work = tmp_path / "work"
    shutil.copytree(shared, work)
    store = open_store(default_url(work))
    add_user(store, "kpi-ann", "collector")
    loaded = load_ledger(ledger)
    customers = loaded.df("customers")
    loaded.close()
    assign_new(store, customers["customer_id"].head(100), customers, WorkflowConfig())
    owned = owners(store)
    store.engine.dispose()
    env = {"O2C_WORKDIR": str(work)}
    expected = {}
    for by in ("country", "collector"):
        cli = runner.invoke(app, ["kpis", "--ledger", str(ledger), "--as-of", API_AS_OF,
                                  "--by", by, "--json"], env=env)
        assert cli.exit_code == 0, cli.output
        expected[by] = json.loads(cli.output.strip().splitlines()[-1])
    collector = {"Authorization": "Bearer kpi-collector-key-01"}
    with running_server(work, KEYS, log=tmp_path / "server.log") as url:
        assert httpx.get(f"{url}/kpis", timeout=30).status_code == 401
        whole = httpx.get(f"{url}/kpis", headers=collector, timeout=30)
        grouped = {by: httpx.get(f"{url}/kpis", params={"by": by}, headers=collector,
                                 timeout=30) for by in expected}
        unknown = httpx.get(f"{url}/kpis", params={"by": "planet"}, headers=collector,
                            timeout=30)
    assert whole.status_code == 200, whole.text
    assert whole.json() == {k: v for k, v in expected["country"].items()
                            if k not in ("by", "groups")}
    for by, answer in grouped.items():
        assert answer.status_code == 200 and answer.json() == expected[by], by
    sizes = {g["group"]: g["customers"] for g in expected["collector"]["groups"]}
    assert sizes[UNASSIGNED] == len(customers) - len(owned)
    assert sum(sizes.values()) == len(customers) and len(owned) == 100
    assert unknown.status_code == 400 and unknown.json()["field"] == "by"


@pytest.mark.slow
def test_monitoring_summary_holds_the_kpis(api_workdir: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    """`o2c monitor` (on a copy of the API tests' working folder) reports the KPIs as of the
    day after its current window, the same as `kpi_report`."""
    ledger, work = api_workdir
    copy = tmp_path / "work"
    shutil.copytree(work, copy)
    result = runner.invoke(app, [
        "monitor", "--ledger", str(ledger), "--current-from", "2026-01-01",
        "--current-to", "2026-02-28", "--out", str(tmp_path / "monitoring"), "--json"],
        env={"O2C_WORKDIR": str(copy)})
    assert result.exit_code in (0, 3, 4), result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    loaded = load_ledger(ledger)
    expected = kpi_report(kpi_components(loaded, dt.date(2026, 3, 1)), dt.date(2026, 3, 1))
    loaded.close()
    assert summary["kpis"] == expected
    assert "receivables" in result.output and "DSO" in result.output
