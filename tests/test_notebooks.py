"""The notebooks run top to bottom on a small generated ledger."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=200, months=15, seed=3)), path)
    return path


def _run(
    name: str, cwd: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))


def test_explore_ledger_notebook_runs(small_ledger: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = _run("01-explore-ledger.ipynb", tmp_path, monkeypatch, O2C_LEDGER=str(small_ledger))
    printed = _text(notebook)
    assert str(small_ledger) in printed
    assert "paid late" in printed


def test_model_analysis_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty MLflow store the notebook trains a champion itself, then analyses it."""
    notebook = _run("02-model-analysis.ipynb", tmp_path, monkeypatch,
                    O2C_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
                    O2C_LEDGER=str(tmp_path / "no-ledger-here"))
    printed = _text(notebook)
    assert "champion: late-payment-risk v1" in printed
    assert "AUC" in printed and "raises:" in printed
