"""Stages of a feature query, run as temporary tables in a private DuckDB cursor.

A builder is a list of named stages and a final SELECT. Stages read several times are
materialized (`CREATE TEMP TABLE`), the others are inlined as CTEs. Builders run in a cursor
of the ledger's connection: its temporary tables are private to it and vanish when it
closes, so a build leaves the ledger's connection as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Stage:
    """One named step: a SELECT over the ledger tables and earlier stages."""

    name: str
    sql: str
    materialize: bool = False
    """Create it as a temporary table (for stages read more than once)."""


def date_literal(day: dt.date) -> str:
    """A date as a DuckDB literal; rejects datetimes and other types."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise TypeError(f"expected a datetime.date, got {day!r}")
    return f"DATE '{day.isoformat()}'"


def with_query(stages: Sequence[Stage], final: str) -> str:
    """All stages as CTEs in front of `final`: one self-contained statement."""
    if not stages:
        return final
    ctes = ",\n".join(f"{s.name} AS {'MATERIALIZED ' if s.materialize else ''}({s.sql})"
                      for s in stages)
    return f"WITH {ctes}\n{final}"


def materialize(
    cursor: duckdb.DuckDBPyConnection, stages: Sequence[Stage], *, replace: bool = False
) -> list[Stage]:
    """Create the stages marked `materialize` as temporary tables, in order, in `cursor`.

    Returns the other stages, to be inlined as CTEs into the queries that follow.
    """
    inline: list[Stage] = []
    create = "CREATE OR REPLACE TEMP TABLE" if replace else "CREATE TEMP TABLE"
    for stage in stages:
        if stage.materialize:
            cursor.execute(f"{create} {stage.name} AS {with_query(inline, stage.sql)}")
        else:
            inline.append(stage)
    return inline
