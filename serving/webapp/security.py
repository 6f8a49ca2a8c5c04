"""The web app's secrets and guards: the session-signing key, CSRF tokens and the limit on
failed sign-ins."""

from __future__ import annotations

import collections
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path

SECRET_FILE = "webapp-secret"
"""Where the generated session key is kept, in the working folder."""
CSRF_FIELD = "csrf_token"
"""Name of the hidden form field that carries the CSRF token."""
CSRF_HEADER = "x-csrf-token"
"""Header that carries it on htmx requests (`hx-headers`)."""
MAX_TRACKED = 10_000
"""Most (user, address) pairs the sign-in throttle remembers; the stalest go first."""


def session_secret(configured: str | None, workdir: Path) -> str:
    """The key that signs session cookies: the configured one, else the one generated into
    `<workdir>/webapp-secret` on first use (created with mode 0600, never rewritten)."""
    if configured:
        return configured
    path = Path(workdir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds no usable session key (fewer than 32 characters):"
                             " delete it to have a new one generated") from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def csrf_token(session: MutableMapping) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_valid(session: MutableMapping, sent: str | None) -> bool:
    """Whether `sent` is the session's CSRF token (compared in constant time)."""
    expected = session.get(CSRF_FIELD)
    return bool(expected and sent) and hmac.compare_digest(str(expected), str(sent))


class LoginThrottle:
    """Failed sign-ins per (user name, address): after `limit` failures within `window`
    seconds, further attempts are refused until the oldest failure leaves the window.
    In memory, per server process; thread-safe."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: collections.OrderedDict[tuple[str, str], list[float]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until `user` may try again from `address` (0: now)."""
        key, now = (user.casefold(), address), self.clock()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[-self.limit] + self.window - now)

    def failed(self, user: str, address: str) -> None:
        """Count a failed sign-in."""
        key, now = (user.casefold(), address), self.clock()
        with self._lock:
            times = self._recent(key, now)
            self._failures[key] = [*times, now][-self.limit:]
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        """Forget the failures of a user who has signed in."""
        with self._lock:
            self._failures.pop((user.casefold(), address), None)
