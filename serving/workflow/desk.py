"""What the API's workflow endpoints call: the store, the book of the snapshot in service,
the worklist with the store's actions and owners laid over it, and who is asking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from models.worklist import WorklistConfig
from serving.scoring import ApiError, Scorer
from serving.workflow.actions import Book
from serving.workflow.config import WorkflowConfig
from serving.workflow.db import Store, store_for
from serving.workflow.errors import WorkflowError
from serving.workflow.overlay import open_actions, overlay_worklist
from serving.workflow.ownership import assign_new, collectors, version
from serving.workflow.users import Actor, actor_for_digest

T = TypeVar("T")
ENV_PREFIX = "env:"
"""User names of environment keys (`env:<role>`): they own no portfolio."""


class Desk:
    """The workflow store as the API uses it, over whichever snapshot is in service."""

    def __init__(self, url: str, config: WorkflowConfig, worklist: WorklistConfig) -> None:
        """`url`: the store's database (opened and upgraded now)."""
        self.store = store_for(url)
        self.config = config
        self.worklist_config = worklist
        self._book: tuple[Scorer, Book] | None = None
        self._rows_cache: tuple[Scorer, tuple, list[dict[str, Any]]] | None = None

    def book(self, scorer: Scorer) -> Book:
        """The customers and open invoices of the scorer's snapshot (kept per scorer)."""
        cached = self._book
        if cached is None or cached[0] is not scorer:
            cached = (scorer, Book.of(scorer.portfolio))
            self._book = cached
        return cached[1]

    def act(self, scorer: Scorer, actor: Actor, action: Callable[[Store, Actor, Book], T]) -> T:
        """Run an action of `serving.workflow.actions`; its refusal as an `ApiError`."""
        try:
            return action(self.store, actor, self.book(scorer))
        except WorkflowError as exc:
            raise ApiError(exc.status, exc.message, exc.field) from None

    def worklist(self, scorer: Scorer, actor: Actor, *, today: dt.date | None = None,
                 collector: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """The scorer's worklist with the store's promises and disputes laid over it and,
        when the store has collectors, each customer's owner as `collector` (customers seen
        the first time assigned by the rule). A collector of the store sees their own
        customers; others see all, or one collector's with `collector`."""
        rows, names = self._rows(scorer, today or dt.date.today())
        if not names:
            return scorer.worklist(rows=rows, collector=collector, **filters)
        if actor.role == "collector" and not actor.name.startswith(ENV_PREFIX):
            if collector not in (None, actor.name):
                raise ApiError(403, f"a collector sees their own worklist: collector must be "
                                    f"{actor.name!r} or absent", "collector")
            collector = actor.name
        return scorer.worklist(rows=rows, collector=collector, collectors=names, **filters)

    def _rows(self, scorer: Scorer, today: dt.date) -> tuple[list[dict[str, Any]], list[str]]:
        """The overlaid rows with their owners, and the store's collectors; kept until an
        action is logged, an owner given, the day or the snapshot changes."""
        names = collectors(self.store)
        key = (version(self.store), today, tuple(names))
        cached = self._rows_cache
        if cached is not None and cached[0] is scorer and cached[1] == key:
            return cached[2], names
        portfolio = scorer.portfolio
        rows = overlay_worklist(scorer.worklist(), portfolio,
                                open_actions(self.store, portfolio.as_of),
                                self.worklist_config, today)
        if names:
            owner = assign_new(self.store, [r["customer_id"] for r in rows],
                               portfolio.customers, self.config)
            rows = [{**row, "collector": owner.get(row["customer_id"])} for row in rows]
            key = (version(self.store), today, tuple(names))  # owners given just now
        self._rows_cache = (scorer, key, rows)
        return rows, names


def key_lookup(url: str) -> Callable[[str], tuple[str, str] | None]:
    """Key digest -> (name, role) of the active store user it belongs to, for
    `serving.auth.ApiKeyMiddleware`."""
    def lookup(key_digest: str) -> tuple[str, str] | None:
        actor = actor_for_digest(store_for(url), key_digest)
        return (actor.name, actor.role) if actor else None

    return lookup


def actor_of(headers: Mapping[str, str]) -> Actor:
    """Who sent a request let in by `serving.auth.ApiKeyMiddleware` (its headers)."""
    name, role = headers.get("x-o2c-user"), headers.get("x-o2c-role")
    if not name or not role:
        raise ApiError(401, "no authenticated user on the request", "Authorization")
    return Actor(name, role)
