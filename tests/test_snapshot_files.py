"""Snapshot folders survive crashes and concurrent writers; stored snapshots are reused only
when they were made from the same ledger, settings and models.

Crashes are real: a child process writes a folder with `ledger.atomic.atomic_directory` and
kills itself (`os._exit`) at a chosen step, so no clean-up code runs.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from ledger import atomic
from ledger.atomic import atomic_directory
from tests.conftest import API_AS_OF

WAITING = "waiting for another process writing into"

CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from ledger import atomic

    target, step = Path(sys.argv[1]), sys.argv[2]
    real_exchange = atomic.exchange

    def exchange(first, second):
        if step == "before-exchange":
            os._exit(9)
        real_exchange(first, second)
        if step == "after-exchange":
            os._exit(9)

    atomic.exchange = exchange
    with atomic.atomic_directory(target) as staging:
        (staging / "a.txt").write_text("new")
        if step == "writing":
            os._exit(9)
        (staging / "b.txt").write_text("new")
""")


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def _write(target: Path, text: str) -> None:
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text(text)
        (staging / "b.txt").write_text(text)


OLD = {"a.txt": "old", "b.txt": "old"}
NEW = {"a.txt": "new", "b.txt": "new"}


@pytest.mark.parametrize(("step", "visible"), [
    ("writing", OLD), ("before-exchange", OLD), ("after-exchange", NEW)])
def test_a_crash_at_any_step_leaves_the_old_or_the_new_folder_and_the_next_run_cleans(
    tmp_path: Path, step: str, visible: dict[str, str]
) -> None:
    target = tmp_path / "2025-12-01"
    _write(target, "old")
    crashed = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(target), step],
                             cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert crashed.returncode == 9, crashed.stderr
    assert _contents(target) == visible
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".writing")]
    assert len(leftovers) == 1, "the dead run left its temporary folder"
    _write(target, "next")
    assert _contents(target) == {"a.txt": "next", "b.txt": "next"}
    assert [p.name for p in tmp_path.iterdir()] == ["2025-12-01"]


def test_a_failed_exchange_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    _write(target, "old")

    def failing(first: Path, second: Path) -> None:
        raise OSError("exchange failed")

    monkeypatch.setattr(atomic, "exchange", failing)
    with pytest.raises(OSError, match="exchange failed"):
        _write(target, "new")
    assert _contents(target) == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_first_write_that_fails_to_rename_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(source: str, target: str) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        _write(tmp_path / "out", "new")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing_rename", [None, 1, 2])
def test_without_exchange_two_renames_swap_or_restore_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_rename: int | None
) -> None:
    """Where the file system cannot exchange, the fallback still never loses the old folder
    to an error at either rename."""
    target = tmp_path / "out"
    _write(target, "old")
    real_replace = os.replace
    calls: list[str] = []

    def unsupported(first: Path, second: Path) -> None:
        raise NotImplementedError("no RENAME_EXCHANGE here")

    def replace(source: str, destination: str) -> None:
        calls.append(Path(source).name)
        if len(calls) == failing_rename:
            raise OSError(f"rename {failing_rename} failed")
        real_replace(source, destination)

    monkeypatch.setattr(atomic, "exchange", unsupported)
    monkeypatch.setattr(atomic.os, "replace", replace)
    if failing_rename is None:
        _write(target, "new")
        assert _contents(target) == NEW
    else:
        with pytest.raises(OSError, match=f"rename {failing_rename} failed"):
            _write(target, "new")
        assert _contents(target) == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_file_in_the_way_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="out exists and is not a folder"):
        _write(target, "new")
    assert target.read_text() == "not a folder"


def test_leftovers_of_other_folders_and_foreign_files_are_kept(tmp_path: Path) -> None:
    kept = [tmp_path / ".2025-11-01.0123456789ab.writing", tmp_path / ".out.notes.writing"]
    for folder in kept:
        folder.mkdir()
    _write(tmp_path / "out", "new")
    assert all(folder.exists() for folder in kept)


def _wait_for_line(stream, text: str) -> str:  # noqa: ANN001
    """Read lines of a child's stderr until one holds `text` (or the child closes it)."""
    seen = []
    while True:
        ready, _, _ = select.select([stream], [], [], 300)
        line = stream.readline() if ready else ""
        if not line:
            raise AssertionError(f"no line with {text!r}; got: {''.join(seen)}")
        seen.append(line)
        if text in line:
            return line


def test_a_second_writer_waits_for_the_first_then_writes_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    script = ("import sys; from pathlib import Path; from tests.test_snapshot_files import "
              "_write; _write(Path(sys.argv[1]), 'second')")
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("first")
        (staging / "b.txt").write_text("first")
        second = subprocess.Popen([sys.executable, "-c", script, str(target)],
                                  cwd=Path(__file__).parents[1], stderr=subprocess.PIPE,
                                  text=True)
        _wait_for_line(second.stderr, f"{WAITING} {tmp_path}")
        assert not target.exists(), "the first writer has not swapped yet"
    # the waiting writer may swap in as soon as the lock is free: whole either way, never mixed
    assert _contents(target) in ({"a.txt": "first", "b.txt": "first"},
                                 {"a.txt": "second", "b.txt": "second"})
    assert second.wait(timeout=300) == 0, second.stderr.read()
    assert _contents(target) == {"a.txt": "second", "b.txt": "second"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _portfolio(customer: str):  # noqa: ANN202
    import datetime as dt

    from serving.portfolio import Portfolio

    frame = pd.DataFrame({"customer_id": [customer]})
    return Portfolio(dt.date(2025, 12, 1), frame, frame, frame, frame, {"m": customer},
                     inputs={"ledger_sha256": customer}, kpis=frame)


def test_a_snapshot_replaced_while_being_read_is_read_again_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving import portfolio as module

    folder = module.write_portfolio(_portfolio("old"), tmp_path)
    real_read = pd.read_parquet
    reads: list[str] = []

    def read_then_replace(path: Path, **kwargs: object) -> pd.DataFrame:
        reads.append(Path(path).name)
        if len(reads) == 2:  # halfway through the first reading, a new snapshot lands
            module.write_portfolio(_portfolio("new"), tmp_path)
        return real_read(path, **kwargs)

    monkeypatch.setattr(module.pd, "read_parquet", read_then_replace)
    read = module.read_portfolio(folder)
    assert len(reads) == 2 * len(module.FRAMES)
    assert read.models == {"m": "new"} and read.inputs == {"ledger_sha256": "new"}
    assert all(getattr(read, name)["customer_id"].tolist() == ["new"]
               for name in module.FRAMES)


# Through the CLI, with the champions of the session's API working folder (`api_workdir`);
# each test has a working folder of its own for snapshots.

def _env(work: Path, api_work: Path) -> dict[str, str]:
    return {"O2C_WORKDIR": str(work), "COLUMNS": "200",
            "O2C_MLFLOW_TRACKING_URI": f"sqlite:///{(api_work / 'mlflow.db').resolve()}"}


def _invoke(args: list[str], env: dict[str, str]):  # noqa: ANN202
    from typer.testing import CliRunner

    from o2c.cli import app

    return CliRunner().invoke(app, args, env=env)


@pytest.mark.slow
def test_two_score_runs_for_one_date_both_end_cleanly(
    api_workdir: tuple[Path, Path], tmp_path: Path
) -> None:
    """Both runs wait while another writer holds the snapshots folder, then write in turn."""
    from serving.portfolio import read_portfolio

    ledger, api_work = api_workdir
    work = tmp_path / "work"
    snapshots = work / "snapshots"
    command = [str(Path(sys.executable).parent / "o2c"), "score", "--ledger", str(ledger),
               "--as-of", API_AS_OF]
    env = {**os.environ, **_env(work, api_work)}
    with atomic_directory(snapshots / "other") as staging:
        (staging / "x.txt").write_text("held")
        runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for run in runs:
            _wait_for_line(run.stderr, f"{WAITING} {snapshots}")
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert "Traceback" not in err and f"Wrote {snapshots / API_AS_OF}" in out
    portfolio = read_portfolio(snapshots / API_AS_OF)
    assert portfolio.as_of.isoformat() == API_AS_OF and len(portfolio.worklist) > 0
    assert sorted(p.name for p in snapshots.iterdir()) == [API_AS_OF, "other"]


def test_worklist_with_a_missing_ledger_exits_1_naming_it(tmp_path: Path) -> None:
    """Even with a snapshot stored for the date, a ledger that is not there is an error."""
    work = tmp_path / "work"
    stored = work / "snapshots" / API_AS_OF
    stored.mkdir(parents=True)
    (stored / "manifest.json").write_text(json.dumps({"as_of": API_AS_OF, "models": {}}))
    missing = tmp_path / "no-such-ledger"
    for command in ("worklist", "limits"):
        result = _invoke([command, "--ledger", str(missing), "--as-of", API_AS_OF],
                         {"O2C_WORKDIR": str(work)})
        assert result.exit_code == 1, result.output
        assert f"no ledger at {missing}" in result.output
        assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_stored_snapshot_is_used_only_for_the_same_ledger_and_settings(
    api_workdir: tuple[Path, Path], tmp_path: Path
) -> None:
    from serving.portfolio import read_portfolio

    ledger, api_work = api_workdir
    work = tmp_path / "work"
    shutil.copytree(api_work / "snapshots" / API_AS_OF, work / "snapshots" / API_AS_OF)
    stored = read_portfolio(work / "snapshots" / API_AS_OF).worklist
    env = _env(work, api_work)
    args = ["--as-of", API_AS_OF, "--json"]

    same = _invoke(["worklist", "--ledger", str(ledger), *args], env)
    assert same.exit_code == 0, same.output
    assert f"using the snapshot {work / 'snapshots' / API_AS_OF}" in same.stderr
    rows = json.loads(same.stdout.strip().splitlines()[-1])["worklist"]
    assert [r["customer_id"] for r in rows] == stored["customer_id"].tolist()

    # The same ledger with the payments of the last 30 days before the date undone.
    changed = tmp_path / "changed-ledger"
    shutil.copytree(ledger, changed)
    payments = pd.read_parquet(changed / "payments.parquet")
    dates = pd.to_datetime(payments["payment_date"])
    recent = (dates < pd.Timestamp(API_AS_OF)) & (dates >= pd.Timestamp(API_AS_OF)
                                                   - pd.Timedelta(days=30))
    assert recent.any()
    payments[~recent].to_parquet(changed / "payments.parquet", index=False)
    other = _invoke(["worklist", "--ledger", str(changed), *args], env)
    assert other.exit_code == 0, other.output
    assert "made from another ledger" in other.stderr and "Computing" in other.stderr
    rows = json.loads(other.stdout.strip().splitlines()[-1])["worklist"]
    assert sum(r["open_amount"] for r in rows) > stored["open_amount"].sum()

    reweighted = _invoke(["limits", "--ledger", str(ledger), *args],
                         {**env, "O2C_WORKLIST__AGE_WEIGHT": "0"})
    assert reweighted.exit_code == 0, reweighted.output
    assert "made with other [worklist] settings" in reweighted.stderr
    assert "another ledger" not in reweighted.stderr
