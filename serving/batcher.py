"""Adaptive batching of `/score_invoices`: the rows of concurrent requests scored together.

While one batch is being scored (in a worker thread), the requests that arrive wait; the
next batch takes all of them (up to `max_rows`), so under load each model call serves many
requests, and a lone request is scored at once (no timer). Every request keeps its own
`as_of` (it is on its rows), and a batch holds only requests of the same `Scorer` and the
same reasons flag, so a reload never mixes models in one batch. When a batch fails, its
halves are scored apart, down to single requests, so a failure reaches only the request
that caused it, never the others scored with it.

BentoML's own adaptive batching (`batchable=True`) needs an API whose one argument is the
batch, so it cannot carry the body's top-level `as_of`, and it answers 503 when its latency
budget is exceeded; `benchmarks/bench_api.py --batching` measures it beside this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from serving.scoring import Scorer

logger = logging.getLogger(__name__)


@dataclass
class _Request:
    scorer: Scorer
    reasons: bool
    rows: Sequence[dict[str, Any]]
    future: asyncio.Future = field(repr=False)


class ScoreBatcher:
    """Coalesces concurrent scoring requests into batches of at most `max_rows` rows."""

    def __init__(self, max_rows: int = 1000) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows!r}")
        self.max_rows = max_rows
        self._pending: list[_Request] = []
        self._draining = False
        self.batches = 0
        """Batches scored so far (for tests and metrics)."""

    async def score(self, scorer: Scorer, rows: Sequence[dict[str, Any]], *,
                    reasons: bool = True) -> list[dict[str, Any]]:
        """The scores of `rows` (from `scorer.prepare`), scored with other requests' rows."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(scorer, reasons, rows, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _next_batch(self) -> list[_Request]:
        """The first pending request and every later one that fits with it."""
        first = self._pending[0]
        batch, rest, size = [], [], 0
        for request in self._pending:
            fits = (request.scorer is first.scorer and request.reasons == first.reasons
                    and size + len(request.rows) <= self.max_rows)
            if fits or not batch:
                batch.append(request)
                size += len(request.rows)
            else:
                rest.append(request)
        self._pending = rest
        return batch

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._score(self._next_batch())
        finally:
            self._draining = False

    async def _score(self, batch: list[_Request]) -> None:
        """Score the batch in one call and hand each request its scores; if the call fails,
        score each half apart, so only a request that fails alone gets the exception."""
        rows = [row for request in batch for row in request.rows]
        try:
            scores = await asyncio.to_thread(batch[0].scorer.score_rows, rows,
                                             reasons=batch[0].reasons)
        except Exception as exc:  # noqa: BLE001 - handed to the request that caused it
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            logger.warning("a batch of %d requests failed (%s): scoring its halves apart",
                           len(batch), type(exc).__name__)
            half = len(batch) // 2
            await self._score(batch[:half])
            await self._score(batch[half:])
            return
        self.batches += 1
        start = 0
        for request in batch:
            end = start + len(request.rows)
            if not request.future.done():
                request.future.set_result(scores[start:end])
            start = end
