"""Settings of the served API (`[api]` in o2c.toml, `O2C_API__*` variables)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.scoring import MAX_BATCH


class ApiConfig(BaseModel):
    """How the API serves: batch limit and the collectors the worklist is split among."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_batch: int = Field(MAX_BATCH, ge=1, le=100_000)
    """Most invoices one /score_invoices request may carry; more get 413."""
    collectors: dict[str, int] = Field(default_factory=dict)
    """Collector name -> daily capacity (customers); the worklist's `collector` filter
    returns the rows `models.worklist.assign_collectors` gives each. Empty: no collectors."""
