"""The service as a child process on a free loopback port: for tests, benchmarks and the demo."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(
    workdir: Path, keys: dict[str, str], *, log: Path, command: Sequence[str] | None = None,
    env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120.0,
) -> Iterator[str]:
    """Start `o2c serve` (or `command`, given `--port P` at its end) over `workdir` with API
    `keys`, yield its URL once `/readyz` answers 200, and stop its process group on exit.

    RuntimeError with the server's log when it exits or is not ready within `timeout` s.
    """
    port = free_port()
    bin_dir = Path(sys.executable).parent
    argv = [*(command or [str(bin_dir / "o2c"), "serve"]), "--port", str(port)]
    environment = {**os.environ, **(env or {}), "O2C_WORKDIR": str(workdir),
                   "O2C_API_KEYS": json.dumps(keys)}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=environment, stdout=out, cwd=cwd,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, log, timeout)
        yield url
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"o2c serve exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"o2c serve not ready in {timeout:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
