"""Write a file or a folder so that readers see the old one or the whole new one, never half.

A folder is written into a temporary sibling, `.<name>.<random>.writing`, which then trades
places with the old folder in one step (Linux `renameat2` with `RENAME_EXCHANGE`), so a crash
at any moment leaves the old or the new folder in place; the old one is deleted afterwards.
Writers into one parent folder take turns (an exclusive `flock` on the parent, released by the
system when a process dies), so each can remove the temporary folders that dead runs left.
Where the system cannot exchange two paths (not Linux, or a file system without
`RENAME_EXCHANGE`), the swap falls back to two renames, with a moment between them when the
folder is absent.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP}


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it takes `path`'s place in one
    step (an existing `path` stays whole until then), else it is deleted.

    Holds the writers' lock of `path`'s parent throughout: a second writer into the same parent
    waits (logging that it does); do not nest two of these for one parent in one process."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writers_lock(path.parent):
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} exists and is not a folder: not replaced")
        for leftover in _leftovers(path):
            _remove(leftover)
        staging = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.writing"
        staging.mkdir(mode=0o755)
        try:
            yield staging
            _swap(staging, path)
        finally:
            _remove(staging)  # the half-written new folder, or the old one after the swap


@contextlib.contextmanager
def _writers_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` until the block ends or the process dies."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another process writing into %s", folder)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _leftovers(path: Path) -> list[Path]:
    """Temporary folders of `path` left by runs that died (this one and older versions)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8,12}}\.(writing|old)")
    return [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]


def _remove(path: Path) -> None:
    """Delete a folder or a link, if there."""
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _swap(staging: Path, path: Path) -> None:
    """Put `staging` at `path`; an existing `path` is left at `staging` or deleted."""
    if not path.exists():
        os.replace(staging, path)
        return
    try:
        exchange(staging, path)
    except NotImplementedError:
        _swap_by_renames(staging, path)


def exchange(first: Path, second: Path) -> None:
    """Swap two existing paths in one step; NotImplementedError where the system or the file
    system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if (
        sys.platform.startswith("linux")) else None
    if renameat2 is None:
        raise NotImplementedError("renameat2 is not available")
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                 _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        if code in _UNSUPPORTED:
            raise NotImplementedError(f"{os.strerror(code)}: cannot exchange {first}, {second}")
        raise OSError(code, os.strerror(code), str(first), None, str(second))


def _swap_by_renames(staging: Path, path: Path) -> None:
    """Move `path` aside, put `staging` in its place (moving `path` back on failure), and delete
    the old folder."""
    backup = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.old"
    os.replace(path, backup)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(backup, path)
        raise
    _remove(backup)
