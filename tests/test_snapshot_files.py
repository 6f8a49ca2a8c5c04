"""Snapshot folders survive crashes and concurrent writers; stored snapshots are reused only
when they were made from the same ledger, settings and models.

Crashes are real: a child process writes a folder with `ledger.atomic.atomic_directory` and
kills itself (`os._exit`) at a chosen step, so no clean-up code runs.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import atomic
from ledger.atomic import atomic_directory

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


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Path]:
    """Another writer busy in `tmp_path` (it holds the writers' lock until the test lets go)."""
    with atomic_directory(tmp_path / "other") as staging:
        (staging / "x.txt").write_text("other")
        yield tmp_path


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
    assert _contents(target) == {"a.txt": "first", "b.txt": "first"}
    assert second.wait(timeout=300) == 0, second.stderr.read()
    assert _contents(target) == {"a.txt": "second", "b.txt": "second"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
