"""The delivery channel (`invoices.paperless`): imported with an export's own spellings,
read into point-in-time features, posted to the API, and absent without changing anything.

The hand-made ledger of `tests.test_features_handmade`, with channels: A1 paper (settled
01-03, early), A2 electronic (settled 04-01, late), A3 paper (settled 05-20, late), A4 paper
(open), A5 electronic (settled 07-01, on time), C1 unknown.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from features import build_invoice_features, build_snapshot
from features.catalog import CHANNEL_FEATURES
from ledger import load_ledger
from ledger.loader import ledger_from_frames
from o2c.cli import app
from serving.history import PostedFeatures, customer_history
from serving.schemas import PostedInvoice
from tests.test_features_handmade import T, handmade_frames
from tests.test_import import EXPORT, MAPPING, write_export
from training.candidates import candidates, choose_model
from training.config import TrainingConfig

CHANNELS = {"A1": False, "A2": True, "A3": False, "A4": False, "A5": True, "C1": None}


def channel_frames() -> dict[str, pd.DataFrame]:
    frames = handmade_frames()
    invoices = frames["invoices"]
    invoices["paperless"] = pd.Series(invoices["invoice_id"].map(CHANNELS), dtype=object)
    return frames


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return build_invoice_features(ledger_from_frames(channel_frames())).set_index("invoice_id")


# --------------------------------------------------------------------------- import


def test_a_flag_column_is_imported_with_its_own_spellings(tmp_path) -> None:  # noqa: ANN001
    export = EXPORT.replace("countryCode", "countryCode,PaperlessBill")
    lines = export.splitlines()
    for i, channel in enumerate(["Electronic", "paper", "", "PAPER", "Electronic"], start=1):
        lines[i] += f",{channel}"
    mapping = MAPPING.replace('country = "countryCode"', 'country = "countryCode"\n'
                              'paperless = "PaperlessBill"') + \
        '[values.paperless]\ntrue = ["Electronic"]\nfalse = ["Paper"]\n'
    path = write_export(tmp_path / "in", "\n".join(lines) + "\n", mapping)
    result = CliRunner().invoke(app, ["import", "--mapping", str(path), "--out",
                                      str(tmp_path / "L")])
    assert result.exit_code == 0, result.output
    assert "paperless: the delivery channel at issue, 2 electronic, 2 on paper, 1 unknown" \
        in result.output
    ledger = load_ledger(tmp_path / "L")
    rows = ledger.con.sql("SELECT invoice_id, paperless FROM invoices ORDER BY invoice_id")
    assert rows.fetchall() == [("1001", True), ("1002", False), ("1003", None),
                               ("1004", False), ("1005", True)]
    # Disputed keeps the mapping's general yes/no spellings
    assert ledger.scalar("SELECT count(*) FROM disputes") == 2
    ledger.close()

    lines[4] = lines[4].removesuffix(",PAPER") + ",Fax"
    write_export(tmp_path / "in", "\n".join(lines) + "\n", mapping)
    result = CliRunner().invoke(app, ["import", "--mapping", str(path), "--out",
                                      str(tmp_path / "L2")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "export.csv row 5, column PaperlessBill: 'Fax' cannot be read as paperless: " \
           "expected Electronic (true) or Paper (false)" in result.output
    assert not (tmp_path / "L2").exists()


@pytest.mark.parametrize(("values", "message"), [
    ('[values.po_number]\ntrue = ["x"]\nfalse = ["y"]\n', "['po_number'] are not yes/no columns"),
    ('[values.paperless]\ntrue = ["E", "p"]\nfalse = ["P"]\n',
     "['p'] cannot mean both true and false"),
    ('[values.paperless]\ntrue = ["E"]\n', "values.paperless.false"),
])
def test_flag_spellings_in_the_mapping_are_checked(tmp_path, values: str,  # noqa: ANN001
                                                    message: str) -> None:
    path = write_export(tmp_path, EXPORT, MAPPING + values)
    result = CliRunner().invoke(app, ["import", "--mapping", str(path), "--out",
                                      str(tmp_path / "L")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "mapping.toml" in result.output and message in result.output


# --------------------------------------------------------------------------- features


def test_channel_features_at_issue_by_hand(features: pd.DataFrame) -> None:
    expected = {  # paperless, share of earlier invoices sent electronically, same-channel
        "A1": (0, math.nan, math.nan),  # nothing earlier, nothing settled
        "A2": (1, 0.0, 0.0),  # A1 paper and on time: own share 0, no electronic settled
        "A3": (0, 0.5, 0.0),  # paper: A1 on time
        "A4": (0, 1 / 3, (0 + 5 * 0.5) / (1 + 5)),  # own 1 late of 2; paper: A1
        "A5": (1, 0.25, (1 + 5 * 2 / 3) / (1 + 5)),  # own 2 of 3; electronic: A2 late
        "C1": (math.nan, math.nan, math.nan),  # channel unknown, no history
    }
    got = features.loc[list(expected), list(CHANNEL_FEATURES)].to_numpy(float)
    np.testing.assert_allclose(got, np.array(list(expected.values())), rtol=1e-12)


def test_later_invoices_and_channels_change_no_earlier_feature(features: pd.DataFrame) -> None:
    frames = channel_frames()
    invoices = frames["invoices"]
    invoices.loc[invoices["invoice_id"] == "A5", "paperless"] = False
    later = pd.DataFrame({"invoice_id": ["A6"], "customer_id": ["A"],
                          "issue_date": pd.to_datetime(["2024-08-01"]),
                          "due_date": pd.to_datetime(["2024-08-31"]), "amount": [50.0],
                          "currency": ["EUR"], "paperless": [True]})
    frames["invoices"] = pd.concat([invoices, later], ignore_index=True)
    changed = build_invoice_features(ledger_from_frames(frames)).set_index("invoice_id")
    earlier = ["A1", "A2", "A3", "A4", "C1"]  # issued before A5's issue date
    pd.testing.assert_frame_equal(changed.loc[earlier], features.loc[earlier])
    assert changed.loc["A5", "paperless"] == 0
    assert changed.loc["A6", "paperless_share"] == pytest.approx(1 / 5)


def test_the_snapshot_reads_the_channel_of_open_invoices() -> None:
    snapshot = build_snapshot(ledger_from_frames(channel_frames()), T).set_index("invoice_id")
    assert list(snapshot.index) == ["A4", "A5", "C1"]
    np.testing.assert_allclose(snapshot.loc["A4", list(CHANNEL_FEATURES)].to_numpy(float),
                               [0, 0.4, (1 + 5 * 2 / 3) / (2 + 5)])  # paper: A1, A3 late
    assert snapshot.loc["A5", "late_share_same_channel"] == pytest.approx((1 + 5 * 2 / 3) / 6)


def test_a_ledger_without_the_column_gives_the_features_it_gave_before(
    features: pd.DataFrame,
) -> None:
    plain = build_invoice_features(ledger_from_frames(handmade_frames())).set_index("invoice_id")
    assert plain[list(CHANNEL_FEATURES)].isna().all().all()
    others = [c for c in features.columns if c not in CHANNEL_FEATURES]
    pd.testing.assert_frame_equal(plain[others], features[others])


@pytest.mark.parametrize(("channel", "same"), [
    (True, (1 + 5 * 2 / 3) / (1 + 5)),  # electronic: A2 late
    (False, (1 + 5 * 2 / 3) / (2 + 5)),  # paper: A1 on time, A3 late
    (None, math.nan),
])
def test_a_posted_invoice_carries_its_channel(channel: bool | None, same: float) -> None:
    ledger = ledger_from_frames(channel_frames())
    issued = dt.date(2024, 6, 20)  # A5's issue date: the history as of then
    posted = pd.DataFrame({"invoice_id": ["NEW"], "customer_id": ["A"], "issue_date": [issued],
                           "due_date": [issued + dt.timedelta(days=30)], "amount": [600.0],
                           "currency": ["EUR"], "as_of": [issued], "paperless": [channel]})
    built = PostedFeatures(customer_history(ledger, issued)).build(posted).iloc[0]
    expected = [math.nan if channel is None else float(channel), 0.25, same]
    np.testing.assert_allclose(built[list(CHANNEL_FEATURES)].to_numpy(float), expected)
    without = PostedFeatures(customer_history(ledger, issued)).build(
        posted.drop(columns="paperless")).iloc[0]
    assert math.isnan(without["paperless"]) and math.isnan(without["late_share_same_channel"])


def test_the_api_takes_an_optional_channel_flag() -> None:
    invoice = {"invoice_id": "X", "customer_id": "A", "issue_date": "2024-06-20",
               "due_date": "2024-07-20", "amount": 10.0, "currency": "EUR"}
    for extra, expected in (({}, None), ({"paperless": True}, True),
                            ({"paperless": None}, None)):
        body = json.dumps({**invoice, **extra})
        assert PostedInvoice.model_validate_json(body).paperless is expected
    with pytest.raises(ValidationError, match="paperless"):
        PostedInvoice.model_validate_json(json.dumps({**invoice, "paperless": "Electronic"}))


# --------------------------------------------------------------------------- training


def test_the_history_candidate_sees_the_channel_only_where_asked_and_present() -> None:
    config = TrainingConfig()
    inputs = ["late_share_all", "days_late_mean_all", *CHANNEL_FEATURES]
    names = [c.name for c in candidates(1000, features=inputs, label="late", config=config,
                                        channel=True)]
    assert "logistic_channel" in names and "logistic_history" not in names
    for features, channel in ((inputs, False), (inputs[:2], True)):
        names = [c.name for c in candidates(1000, features=features, label="late",
                                            config=config, channel=channel)]
        assert "logistic_history" in names and "logistic_channel" not in names


def test_inputs_missing_on_every_training_row_are_left_out() -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    share = rng.random(400)
    train = pd.DataFrame({"as_of": days, "late_share_all": share,
                          "days_late_mean_all": rng.normal(size=400),
                          **dict.fromkeys(CHANNEL_FEATURES, np.nan),
                          "late": (rng.random(400) < share).astype(int)})
    model, info, comparison = choose_model(
        train, label="late", features=["late_share_all", "days_late_mean_all",
                                       *CHANNEL_FEATURES],
        config=TrainingConfig(), channel=True)
    assert "logistic_history" in set(comparison["candidate"])
    assert "logistic_channel" not in set(comparison["candidate"])
    assert not set(CHANNEL_FEATURES) & set(model.features)
