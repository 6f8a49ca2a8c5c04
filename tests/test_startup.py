"""`o2c --help` and `o2c features list` start fast because the CLI loads no heavy library
until a command needs it (the time itself is measured by benchmarks/bench_startup.py)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("duckdb", "pandas", "numpy", "lightgbm", "sklearn", "mlflow", "bentoml", "evidently",
         "matplotlib", "pyarrow")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True)
    return out.stdout.split()


def test_the_cli_module_loads_no_heavy_library() -> None:
    assert loaded_after("import o2c.cli") == []


def test_help_and_the_feature_list_load_no_heavy_library() -> None:
    for argv in (["--help"], ["features", "list"], ["score", "--help"]):
        code = ("from typer.testing import CliRunner\nfrom o2c.cli import app\n"
                f"result = CliRunner().invoke(app, {argv!r})\n"
                "assert result.exit_code == 0, result.output")
        assert loaded_after(code) == [], argv


def test_a_command_that_needs_the_ledger_still_loads_it() -> None:
    code = ("from typer.testing import CliRunner\nfrom o2c.cli import app\n"
            "CliRunner().invoke(app, ['validate', '/nonexistent-ledger'])")
    assert "duckdb" in loaded_after(code)
