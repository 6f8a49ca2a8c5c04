"""Settings of the served API (`[api]` in o2c.toml, `O2C_API__*` variables) and its fixed
bounds. Light on purpose (pydantic only): the CLI reads it at start."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1000
"""Default of `ApiConfig.max_batch`."""
MAX_IDS = 1000
"""Default of `ApiConfig.max_ids`."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""Default of `ApiConfig.max_body_bytes` (4 MiB: a full batch of 1,000 invoices with long
ids is under 0.5 MiB)."""
ID_LIST_CEILING = 100_000
"""Most ids (or invoices) any request body may list, whatever the settings say."""

DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
"""Every date the API takes (issue, due and as-of dates) and the snapshot's own date lie in
[DATE_MIN, DATE_MAX]: well inside what the scoring's nanosecond timestamps can hold."""


class ApiConfig(BaseModel):
    """How the API serves: request limits and the collectors the worklist is split among."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_batch: int = Field(MAX_BATCH, ge=1, le=ID_LIST_CEILING)
    """Most invoices one /score_invoices request may carry; more get 413. Raise
    `max_body_bytes` with it (about 450 bytes per invoice)."""
    max_ids: int = Field(MAX_IDS, ge=1, le=ID_LIST_CEILING)
    """Most customer ids one /credit_limits request may name; more get 413 (an empty or
    absent list still asks for every customer)."""
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024, le=1024 ** 3)
    """Largest request body in bytes; a larger one gets 413 before it is read whole (by its
    Content-Length, or as soon as that many bytes have arrived)."""
    collectors: dict[str, int] = Field(default_factory=dict)
    """Collector name -> daily capacity (customers); the worklist's `collector` filter
    returns the rows `models.worklist.assign_collectors` gives each. Empty: no collectors."""
