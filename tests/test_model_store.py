"""The model store holds data, not code: loading a model reads it, runs nothing from it and
writes nothing into it (issue 11)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from ledger import Ledger, ledger_from_frames
from ledger.synthetic import SyntheticConfig, generate_ledger
from models.risk_model import RiskModel
from serving.champions import load_champion
from training.config import LightGBMParams, TrainingConfig
from training.examples import build_examples
from training.pipeline import MODEL_NAME
from training.registry import Registry
from training.tasks import LATE_PAYMENT
from training.tracking import log_risk_model
from training.trainer import TrainingRun, train_task

pytestmark = pytest.mark.slow

VALID_FROM = dt.date(2025, 7, 1)
FAST = TrainingConfig(snapshot_max_dates=2,
                      lightgbm=LightGBMParams(learning_rate=0.1, max_rounds=100))
CODE_SUFFIXES = {".py", ".pyc", ".pkl", ".pickle", ".cloudpickle", ".joblib"}


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    frames = generate_ledger(SyntheticConfig(customers=200, months=24, seed=4))
    return ledger_from_frames({k: v for k, v in frames.items() if not k.startswith("truth_")})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def tracking(store: Path) -> Registry:
    return Registry(f"sqlite:///{store / 'mlflow.db'}", "test", (store / "artifacts").as_uri())


@pytest.fixture(scope="module")
def trained(ledger: Ledger, tracking: Registry) -> TrainingRun:
    """The late-payment model trained and registered through the real code path (made
    champion by hand if the gate kept it out: these tests read the champion's files)."""
    run = train_task(LATE_PAYMENT, ledger, valid_from=VALID_FROM, config=FAST,
                     registry=tracking)
    if not run.promoted:
        tracking.promote(MODEL_NAME, run.version, "test: the store's champion")
    return run


@pytest.fixture(scope="module")
def rows(ledger: Ledger) -> pd.DataFrame:
    examples = build_examples(ledger, valid_from=VALID_FROM, grace_days=0,
                              snapshot_every_days=28, snapshot_max_dates=1)
    return examples.valid.frame.head(50)


@pytest.fixture()
def model_folder(trained: TrainingRun, tracking: Registry) -> Path:
    """The champion's folder in the artifact store (MLmodel, data/, ...)."""
    client = MlflowClient(tracking.tracking_uri)
    uri = client.get_model_version_download_uri(MODEL_NAME, trained.version)
    return Path(urlparse(uri).path)


def fingerprint(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under `folder`: modification time, mode and (for files) content hash."""
    return {str(path.relative_to(folder)): (
        path.stat().st_mtime_ns, path.stat().st_mode,
        hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "")
        for path in sorted(folder.rglob("*"))}


@pytest.fixture()
def read_only(store: Path) -> Iterator[Path]:
    """The artifact store with every file and folder made read-only (restored afterwards).

    Tests run as root, for whom the modes stop nothing: a test also compares `fingerprint`s."""
    root = store / "artifacts"
    paths = [root, *root.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    for path in reversed(paths):
        path.chmod(modes[path] & ~0o222)
    yield root
    for path in paths:
        path.chmod(modes[path])


def test_the_store_holds_the_model_as_data_with_signature_and_example(
    trained: TrainingRun, store: Path, model_folder: Path
) -> None:
    stored = [p for p in (store / "artifacts").rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if p.suffix in CODE_SUFFIXES]
    assert sorted(p.name for p in (model_folder / "data" / "risk_model").iterdir()) == \
        sorted(RiskModel.FILES)
    flavor = yaml.safe_load((model_folder / "MLmodel").read_text())
    pyfunc = flavor["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "models.pyfunc"
    assert pyfunc["data"] == "data/risk_model" and not pyfunc.get("code")
    assert "python_model" not in pyfunc and "model_code_path" not in pyfunc
    inputs = [column["name"] for column in yaml.safe_load(flavor["signature"]["inputs"])]
    assert inputs == trained.model.features
    assert (model_folder / flavor["saved_input_example_info"]["artifact_path"]).is_file()
    assert "lightgbm==" in (model_folder / "requirements.txt").read_text()


def test_a_read_only_store_loads_and_scores_and_nothing_in_it_changes(
    trained: TrainingRun, tracking: Registry, rows: pd.DataFrame, store: Path,
    read_only: Path,
) -> None:
    before = fingerprint(store)
    champion = load_champion(MODEL_NAME, tracking)
    assert champion.version == str(trained.version)
    np.testing.assert_allclose(champion.model.predict_proba(rows),
                               trained.model.predict_proba(rows))
    assert fingerprint(store) == before


def test_python_planted_in_the_store_never_runs(
    trained: TrainingRun, tracking: Registry, rows: pd.DataFrame, model_folder: Path,
    tmp_path: Path,
) -> None:
    """Code planted beside the data, and an MLmodel pointing at it, change nothing we load;
    MLflow's own pyfunc loader, which follows the MLmodel, shows the plant is live."""
    marker = tmp_path / "planted-code-ran"
    planted = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    (model_folder / "code" / "models").mkdir(parents=True)
    (model_folder / "code" / "planted.py").write_text(
        planted + "def _load_pyfunc(data_path):\n    raise SystemExit('planted')\n")
    (model_folder / "code" / "models" / "pyfunc.py").write_text(planted)
    (model_folder / "data" / "risk_model" / "__init__.py").write_text(planted)
    mlmodel = yaml.safe_load((model_folder / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"].update(loader_module="planted", code="code")
    (model_folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    champion = load_champion(MODEL_NAME, tracking)
    assert not marker.exists()
    np.testing.assert_allclose(champion.model.predict_proba(rows),
                               trained.model.predict_proba(rows))

    uri = f"models:/{MODEL_NAME}/{trained.version}"
    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import mlflow, tempfile
        mlflow.set_tracking_uri({tracking.tracking_uri!r})
        mlflow.pyfunc.load_model({uri!r}, dst_path=tempfile.mkdtemp())
        """)], capture_output=True, check=False, timeout=300)
    assert marker.read_text() == "ran"


def test_a_version_logged_as_code_before_is_read_as_data(
    trained: TrainingRun, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """A version from before (MLflow "models from code") loads from its data alone: its
    entry file, which MLflow ran when it was logged, does not run again."""
    marker = tmp_path / "entry-file-ran"
    entry = tmp_path / "entry.py"
    entry.write_text(textwrap.dedent(f"""
        import pathlib
        import mlflow.pyfunc
        from models.risk_model import RiskModel

        pathlib.Path({str(marker)!r}).write_text("ran")

        class Legacy(mlflow.pyfunc.PythonModel):
            def load_context(self, context):
                self.model = RiskModel.load(context.artifacts["risk_model"])

            def predict(self, context, model_input, params=None):
                return self.model.predict_proba(model_input)

        mlflow.models.set_model(Legacy())
        """))
    tracking = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "legacy",
                        (tmp_path / "artifacts").as_uri())
    saved = trained.model.save(tmp_path / "risk_model")
    with tracking.start_run("legacy"):
        logged = mlflow.pyfunc.log_model(name="model", python_model=str(entry),
                                         artifacts={"risk_model": str(saved)})
        version = mlflow.register_model(logged.model_uri, "legacy").version
    marker.unlink(missing_ok=True)

    model = tracking.load_model("legacy", str(version))
    assert not marker.exists()
    np.testing.assert_allclose(model.predict_proba(rows), trained.model.predict_proba(rows))


def test_a_version_whose_data_is_missing_is_named(
    trained: TrainingRun, rows: pd.DataFrame, tmp_path: Path
) -> None:
    tracking = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "broken",
                        (tmp_path / "artifacts").as_uri())
    with tracking.start_run("broken") as run:
        logged = log_risk_model(trained.model, rows)
    version = str(tracking.register("broken", logged.model_uri, run_id=run.info.run_id,
                                    model_id=logged.model_id).version)
    uri = tracking.client.get_model_version_download_uri("broken", version)
    data = Path(urlparse(uri).path) / "data" / "risk_model"
    (data / "booster.txt").unlink()
    named = rf"version {version} of model 'broken' \(file:.*\)"
    with pytest.raises(LookupError, match=rf"{named} lacks booster.txt in data/risk_model"):
        tracking.load_model("broken", version)
    shutil.rmtree(data)
    with pytest.raises(LookupError, match=rf"{named} holds no model data"):
        tracking.load_model("broken", version)
