"""Settings of the workflow store (`[workflow]` in o2c.toml): light on purpose (pydantic only),
the CLI reads them at start."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WorkflowConfig(BaseModel):
    """Where the workflow store lives and how customers are given to collectors."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    database_url: str | None = Field(None, repr=False)
    """SQLAlchemy URL of the store, e.g. `postgresql+psycopg://user:pw@host/db`; default
    `sqlite:///<workdir>/workflow.db`. `O2C_DATABASE_URL` wins over it."""
    assign_by: Literal["balanced", "segment", "country"] = "balanced"
    """How a customer seen for the first time on the worklist gets its collector: `balanced`
    (the active collector owning the fewest customers, ties by name), or by the customer's
    `segment` or `country` through `assign_rules` (balanced when no rule matches)."""
    assign_rules: dict[str, str] = Field(default_factory=dict)
    """Segment or country value -> collector user name, for `assign_by` segment or country."""
