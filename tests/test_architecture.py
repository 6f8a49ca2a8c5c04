"""The stage order (ledger -> features -> models -> training -> serving -> monitoring -> o2c)
is enforced by import-linter's contract in pyproject.toml, as `make lint` runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
STAGES = ("o2c", "monitoring", "serving", "training", "models", "features", "ledger")


def run_contract(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_code_keeps_the_stage_order() -> None:
    result = run_contract(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_against_the_order_breaks_the_contract(tmp_path: Path) -> None:
    for stage in STAGES:
        shutil.copytree(ROOT / stage, tmp_path / stage,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "features" / "backwards.py").write_text("import training.config\n")
    result = run_contract(tmp_path)
    assert result.returncode == 1
    assert "features is not allowed to import training" in result.stdout
    assert "features.backwards -> training.config" in result.stdout
