"""The API's scoring class without a server: small fake models on a small generated ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features import build_customer_features, build_invoice_features, build_snapshot
from ledger.loader import ledger_from_frames
from ledger.synthetic import SyntheticConfig, generate_ledger
from models.limits import LimitsConfig
from models.risk_model import RiskModel, numeric_design
from models.worklist import WorklistConfig
from serving.batcher import ScoreBatcher
from serving.champions import Champion
from serving.history import PostedFeatures, customer_history, customer_specs, posted_specs
from serving.portfolio import read_portfolio, score_portfolio, write_portfolio
from serving.scoring import ApiError, LiveScorer, Scorer

AS_OF = dt.date(2024, 11, 4)
INVOICE_FEATURES = ["late_share_all", "days_late_mean_180d", "open_balance_base",
                    "log_amount", "days_past_due", "terms_days", "country"]
CUSTOMER_FEATURES = ["late_share_all", "days_late_mean_180d", "utilization", "country"]


@pytest.fixture(scope="module")
def ledger():  # noqa: ANN201
    frames = generate_ledger(SyntheticConfig(customers=80, months=14, seed=3))
    return ledger_from_frames({k: v for k, v in frames.items() if not k.startswith("truth_")})


def fake_model(frame: pd.DataFrame, features: list[str], seed: int) -> RiskModel:
    """A tiny LightGBM model over `features`: riskier with a higher late share."""
    categories = {"country": sorted(frame["country"].dropna().astype(str).unique())}
    matrix = numeric_design(frame, features, categories)
    rng = np.random.default_rng(seed)
    late = frame["late_share_all"].fillna(0.3).to_numpy()
    label = (rng.random(len(frame)) < 0.1 + 0.8 * late).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5,
                         "verbose": -1, "seed": seed},
                        lgb.Dataset(matrix, label, feature_name=features,
                                    categorical_feature=["country"]),
                        num_boost_round=15)
    return RiskModel(booster=booster, features=features, categories=categories)


@pytest.fixture(scope="module")
def portfolio(ledger, tmp_path_factory):  # noqa: ANN001, ANN201
    snapshot = build_snapshot(ledger, AS_OF)
    customers = build_customer_features(ledger, AS_OF)
    invoice_model = fake_model(snapshot, INVOICE_FEATURES, 1)
    champions = {
        "late_payment": Champion("late-payment-risk", "1", "r1", invoice_model),
        "collections": Champion("collections-risk", "1", "r2",
                                fake_model(snapshot, INVOICE_FEATURES, 2)),
        "serious": Champion("serious-delinquency", "1", "r3",
                            fake_model(customers, CUSTOMER_FEATURES, 3)),
    }
    scored = score_portfolio(ledger, AS_OF, worklist_config=WorklistConfig(),
                             limits_config=LimitsConfig(), **champions)
    folder = write_portfolio(scored, tmp_path_factory.mktemp("snapshots"))
    return read_portfolio(folder), invoice_model


@pytest.fixture(scope="module")
def scorer(portfolio) -> Scorer:  # noqa: ANN001
    snapshot, model = portfolio
    return Scorer(late_payment=model, portfolio=snapshot,
                  models=[{"name": "late-payment-risk", "version": "1"}],
                  collectors={"ann": 3, "bob": 2}, max_batch=50)


def _invoice(customer: str, currency: str, **changes: object) -> dict:
    return {"invoice_id": "NEW1", "customer_id": customer, "issue_date": AS_OF,
            "due_date": AS_OF + dt.timedelta(days=30), "amount": 1200.0, "currency": currency,
            **changes}


def _known(scorer: Scorer) -> tuple[str, str]:
    row = scorer.portfolio.customers.iloc[0]
    return row["customer_id"], row["customer_currency"]


@pytest.mark.parametrize("prepared_rows", [0, 16])
def test_posted_invoice_features_equal_the_pipeline_on_their_issue_day(
    ledger, monkeypatch: pytest.MonkeyPatch, prepared_rows: int  # noqa: ANN001
) -> None:
    """Invoices issued on D, posted with the history as of D, get exactly the features of
    `build_invoice_features` (as of their issue date) and the state of an invoice at issue,
    through either way of running the statement (over the cursor's temporary table, with
    list literals); a later call sees only its own rows."""
    monkeypatch.setattr("serving.history.PREPARED_ROWS", prepared_rows)
    history = customer_history(ledger, AS_OF)
    invoices = ledger.con.sql("SELECT * FROM invoices").df()
    posted = invoices[pd.to_datetime(invoices["issue_date"]) == pd.Timestamp(AS_OF)].copy()
    assert len(posted) >= 2
    posted["as_of"] = AS_OF
    features = PostedFeatures(history)
    built = features.build(posted)
    again = features.build(posted.iloc[[1, 0]])
    pd.testing.assert_frame_equal(again, built.iloc[[1, 0]].reset_index(drop=True))
    expected = build_invoice_features(ledger, start=AS_OF, end=AS_OF + dt.timedelta(days=1))
    expected = expected.set_index("invoice_id").loc[built["invoice_id"]].reset_index()
    own = [s.name for s in posted_specs() if s.kind == "invoice"]
    for column in [s.name for s in customer_specs()] + own:
        left, right = built[column], expected[column]
        if right.dtype.kind == "f":
            np.testing.assert_array_equal(left.to_numpy(float), right.to_numpy(float),
                                          err_msg=column)
        else:
            assert left.astype(object).tolist() == right.astype(object).tolist(), column
    assert (built["days_past_due"] == -(built["due_date"] - built["issue_date"]).dt.days).all()
    assert (built[["age_days", "paid_share", "credited_share", "payments_count"]] == 0).all().all()
    assert not built[["has_open_dispute", "has_active_promise", "has_broken_promise"]].any().any()
    assert not built["cold_start"].any()


def test_history_in_the_snapshot_is_the_customer_features(ledger, portfolio) -> None:  # noqa: ANN001
    snapshot, _ = portfolio
    features = build_customer_features(ledger, AS_OF)
    stored = snapshot.customers[features.columns]
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), features, check_dtype=False)
    assert {"rate", "credit_limit_c", "customer_currency", "invoiced_c__all"} <= set(
        snapshot.customers.columns)


def test_scores_known_and_cold_start_invoices(scorer: Scorer) -> None:
    customer, currency = _known(scorer)
    rows = scorer.score_invoices([_invoice(customer, currency),
                                  _invoice("NOBODY", currency, invoice_id="NEW2")])
    assert [r["invoice_id"] for r in rows] == ["NEW1", "NEW2"]
    known, cold = rows
    assert known["cold_start"] is False and known["history_as_of"] == AS_OF.isoformat()
    assert cold["cold_start"] is True and cold["history_as_of"] is None
    for row in rows:
        assert 0 < row["p_late"] < 1
        assert row["risk_band"] in ("low", "medium", "high")
        assert len(row["reasons"]) <= 3
        assert all(r["contribution"] > 0 and r["text"] for r in row["reasons"])


def test_score_as_of_a_later_date_ages_the_invoice(scorer: Scorer) -> None:
    customer, currency = _known(scorer)
    later = AS_OF + dt.timedelta(days=45)
    row = scorer.score_invoices([_invoice(customer, currency)], later)[0]
    assert row["as_of"] == later.isoformat()
    issued_later = scorer.score_invoices(
        [_invoice(customer, currency, issue_date=later, due_date=later)])[0]
    assert issued_later["as_of"] == later.isoformat()


def test_a_customer_who_pays_later_gets_no_lower_risk(scorer: Scorer) -> None:
    """Direction: the same invoice for customers with a higher late share scores no lower
    on average (the fake model learned risk from the late share)."""
    customers = scorer.portfolio.customers.dropna(subset=["late_share_all"])
    low = customers.nsmallest(5, "late_share_all")
    high = customers.nlargest(5, "late_share_all")

    def mean_p(rows: pd.DataFrame) -> float:
        return float(np.mean([scorer.score_invoices([_invoice(r.customer_id,
                                                               r.customer_currency)])[0]["p_late"]
                              for r in rows.itertuples()]))

    assert mean_p(high) > mean_p(low)


@pytest.mark.parametrize(("invoices", "status", "field"), [
    ([], 400, "invoices"),
    ([_invoice("X", "EUR")] * 51, 413, "invoices"),
])
def test_batch_bounds(scorer: Scorer, invoices: list, status: int, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        scorer.score_invoices(invoices)
    assert (caught.value.status, caught.value.field) == (status, field)


def test_credit_limits_of_some_known_and_some_unknown_customers(scorer: Scorer) -> None:
    """The rows found, each once in the order asked, and the ids without a limit."""
    known = [r["customer_id"] for r in scorer.credit_limits()["limits"][:2]]
    answer = scorer.credit_limits([known[1], "NOBODY", known[0], known[1], "NOBODY-2"])
    assert [r["customer_id"] for r in answer["limits"]] == [known[1], known[0]]
    assert answer["not_found"] == ["NOBODY", "NOBODY-2"]


def test_too_many_customer_ids_is_413(portfolio) -> None:  # noqa: ANN001
    snapshot, model = portfolio
    small = Scorer(late_payment=model, portfolio=snapshot, max_ids=3)
    known = [r["customer_id"] for r in small.credit_limits()["limits"][:3]]
    assert len(small.credit_limits(known)["limits"]) == 3
    with pytest.raises(ApiError) as caught:
        small.credit_limits([known[0]] * 4)
    assert (caught.value.status, caught.value.field) == (413, "customer_ids")


def test_as_of_before_the_snapshot_is_refused(scorer: Scorer) -> None:
    customer, currency = _known(scorer)
    with pytest.raises(ApiError, match="before the snapshot") as caught:
        scorer.score_invoices([_invoice(customer, currency)], AS_OF - dt.timedelta(days=1))
    assert caught.value.field == "as_of"


def test_currency_must_be_the_customers_or_known(scorer: Scorer) -> None:
    customer, currency = _known(scorer)
    other = next(c for c in scorer.posted.rates if c != currency)
    with pytest.raises(ApiError, match="differs") as caught:
        scorer.score_invoices([_invoice(customer, other)])
    assert caught.value.field == "invoices[0].currency"
    with pytest.raises(ApiError, match="unknown currency"):
        scorer.score_invoices([_invoice("NOBODY", "XXX")])


def test_worklist_filters(scorer: Scorer) -> None:
    everything = scorer.worklist()
    assert [r["rank"] for r in everything] == sorted(r["rank"] for r in everything)
    assert len(scorer.worklist(top_k=3)) == min(3, len(everything))
    assert all(not r["held"] for r in scorer.worklist(include_held=False))
    country = everything[0]["country"]
    assert all(r["country"] == country for r in scorer.worklist(country=country))
    threshold = float(np.median([r["amount_at_risk"] for r in everything]))
    assert all(r["amount_at_risk"] >= threshold for r in scorer.worklist(min_amount=threshold))
    ann = scorer.worklist(collector="ann")
    assert 0 < len(ann) <= 3 and all(r["collector"] == "ann" for r in ann)
    with pytest.raises(ApiError, match="unknown collector"):
        scorer.worklist(collector="zoe")


def test_limits_and_customer_profile(scorer: Scorer) -> None:
    limits = scorer.credit_limits()["limits"]
    assert limits and len(limits) == len(scorer.portfolio.limits)
    some = [limits[1]["customer_id"], limits[0]["customer_id"]]
    assert [r["customer_id"] for r in scorer.credit_limits(some)["limits"]] == some
    with pytest.raises(ApiError) as caught:
        scorer.credit_limits(["NOBODY"])
    assert caught.value.status == 404
    profile = scorer.customer(some[0])
    assert profile["limit"]["customer_id"] == some[0]
    assert set(profile["features"]) == {s.name for s in customer_specs()}
    assert profile["scores"]["grade"] == profile["limit"]["grade"]
    assert all(i["customer_id"] == some[0] for i in profile["open_invoices"])
    with pytest.raises(ApiError) as caught:
        scorer.customer("NOBODY")
    assert caught.value.status == 404


def test_model_info_names_models_and_snapshot(scorer: Scorer) -> None:
    info = scorer.model_info()
    assert info["models"][0]["name"] == "late-payment-risk"
    assert info["snapshot"]["as_of"] == AS_OF.isoformat()


def test_reload_swaps_whole_and_keeps_the_old_on_failure(scorer: Scorer, portfolio) -> None:  # noqa: ANN001
    live = LiveScorer(scorer)
    held = live.current
    snapshot, model = portfolio
    fresh = live.reload(lambda: Scorer(late_payment=model, portfolio=snapshot))
    assert live.current is fresh and held is scorer
    customer, currency = _known(scorer)
    assert held.score_invoices([_invoice(customer, currency)])  # the old one still answers

    def broken() -> Scorer:
        raise LookupError("no champion")

    with pytest.raises(LookupError):
        live.reload(broken)
    assert live.current is fresh


def test_concurrent_scoring_during_reloads(scorer: Scorer, portfolio) -> None:  # noqa: ANN001
    snapshot, model = portfolio
    live = LiveScorer(scorer)
    customer, currency = _known(scorer)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert live.current.score_invoices([_invoice(customer, currency)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    live.reload(lambda: Scorer(late_payment=model, portfolio=snapshot))
    for t in threads:
        t.join()
    assert not errors


def test_batcher_scores_concurrent_requests_together(scorer: Scorer, portfolio) -> None:  # noqa: ANN001
    customer, currency = _known(scorer)
    snapshot, model = portfolio
    other = Scorer(late_payment=model, portfolio=snapshot)
    requests = [scorer.prepare([_invoice(customer, currency, invoice_id=f"N{i}")],
                               AS_OF + dt.timedelta(days=i)) for i in range(12)]
    batcher = ScoreBatcher()

    async def run() -> list:
        return await asyncio.gather(*(batcher.score(scorer, rows) for rows in requests),
                                    batcher.score(other, requests[0]))

    *results, from_other = asyncio.run(run())
    assert [r[0]["invoice_id"] for r in results] == [f"N{i}" for i in range(12)]
    assert [r[0]["as_of"] for r in results] == [
        (AS_OF + dt.timedelta(days=i)).isoformat() for i in range(12)]
    assert results[3] == scorer.score_rows(requests[3])
    assert from_other == other.score_rows(requests[0])
    assert batcher.batches == 2  # one per scorer, not one per request


def test_batcher_hands_a_failure_only_to_the_request_that_caused_it(scorer: Scorer) -> None:
    """Broken requests scored in one batch with good ones: each broken one gets its own
    exception, every good one its scores, equal to scoring it alone."""
    customer, currency = _known(scorer)
    good = [scorer.prepare([_invoice(customer, currency, invoice_id=f"G{i}")])
            for i in range(7)]
    broken = [{"invoice_id": "broken"}]
    requests = [good[0], broken, *good[1:4], broken, broken, *good[4:]]
    batcher = ScoreBatcher()

    async def run() -> list:
        return await asyncio.gather(*(batcher.score(scorer, rows) for rows in requests),
                                    return_exceptions=True)

    outcomes = asyncio.run(run())
    assert [isinstance(o, KeyError) for o in outcomes] == [rows is broken for rows in requests]
    scored = [o for o in outcomes if not isinstance(o, BaseException)]
    assert scored == [scorer.score_rows(rows) for rows in good]


def test_scores_without_reasons(scorer: Scorer) -> None:
    customer, currency = _known(scorer)
    with_reasons = scorer.score_invoices([_invoice(customer, currency)])[0]
    without = scorer.score_invoices([_invoice(customer, currency)], reasons=False)[0]
    assert without["reasons"] == [] and without["p_late"] == with_reasons["p_late"]


def test_history_from_another_feature_version_is_named(portfolio) -> None:  # noqa: ANN001
    snapshot, _ = portfolio
    with pytest.raises(ValueError, match="late_share_all.*o2c score"):
        PostedFeatures(snapshot.customers.drop(columns=["late_share_all"]))
