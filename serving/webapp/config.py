"""Settings of the web app (`[webapp]` in o2c.toml, `O2C_WEBAPP__*` variables). Light on
purpose (pydantic only): the CLI reads it at start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebappConfig(BaseModel):
    """How the web app under `/app/` signs people in and keeps them signed in."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    secret_key: str | None = Field(None, repr=False, min_length=32)
    """Key that signs session cookies (32 characters or more); `O2C_WEBAPP_SECRET_KEY` wins
    over it. None: a random key generated once into `<workdir>/webapp-secret` (mode 0600)."""
    secure_cookies: bool = False
    """Send the session cookie only over HTTPS (`Secure`): turn on behind a TLS proxy."""
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    """How long a sign-in lasts."""
    max_failed_logins: int = Field(5, ge=1, le=1000)
    """Failed sign-ins allowed per user name and address within `lockout_minutes`; more get
    429 until the window has passed."""
    lockout_minutes: float = Field(15.0, gt=0, le=24 * 60)
    """The window failed sign-ins are counted over."""
    page_size: int = Field(100, ge=10, le=10_000)
    """Rows per page of the worklist and the limit review queue."""
