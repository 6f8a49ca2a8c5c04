"""The BentoML service: the `Scorer` behind typed JSON endpoints, API keys in front.

Start it with `o2c serve` (or `bentoml serve serving.service:O2CRisk`). At start it reads
the settings (`O2C_WORKDIR`, `O2C_MLFLOW_TRACKING_URI`, `O2C_API_KEYS`...), loads the
late-payment champion from the MLflow registry and the latest portfolio snapshot. POST
endpoints are BentoML APIs; the GET endpoints (`/model_info`, `/monitoring`, `/kpis`) are a
FastAPI app mounted on the service, so they are in the same OpenAPI spec (`/docs.json`).

Errors have one shape, `{"error", "field"}`: bad bodies get 400 from `serving.guard` (with
`errors`, each field and reason), too large ones 413, the scorer's own refusals (`ApiError`)
their status; each client error is logged as one WARNING line without input values.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
from collections.abc import Callable
from typing import Any

import bentoml
from fastapi import FastAPI
from starlette.responses import JSONResponse

from features.kpis import check_grouping, kpi_report
from o2c.settings import Settings, load_settings
from serving.auth import ApiKeyMiddleware, load_api_keys
from serving.batcher import ScoreBatcher
from serving.config import ApiConfig
from serving.guard import RequestGuard, log_client_error
from serving.schemas import (
    CustomerProfile,
    CustomerRequest,
    LimitsRequest,
    LimitsResponse,
    ModelInfo,
    ReloadRequest,
    ScoreRequest,
    ScoreResponse,
    WorklistRequest,
    WorklistResponse,
)
from serving.scoring import ApiError, LiveScorer, Scorer
from serving.state import load_scorer

logger = logging.getLogger(__name__)

http = FastAPI(title="o2c-risk GET endpoints", docs_url=None, redoc_url=None,
               openapi_url=None, redirect_slashes=False)
"""GET endpoints, mounted on the service (BentoML APIs are POST only)."""


def build_scorer(settings: Settings) -> Scorer:
    """A scorer from the champions and the latest snapshot the settings point at."""
    tracking = settings.registry()
    return load_scorer(tracking=tracking, snapshots_dir=settings.snapshots_dir,
                       api=settings.api)


def _keys() -> dict[str, str]:
    settings = load_settings()
    return load_api_keys(settings.api_keys, settings.api_keys_file)


def _api_config() -> ApiConfig:
    return load_settings().api


def _settle() -> None:
    """Move what is loaded now out of the garbage collector's sight (`gc.freeze`): the
    snapshot's many small objects would otherwise make each full collection pause requests
    for a few hundred milliseconds. Unfrozen first, so a reload collects the old state."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _refuse(route: str, exc: ApiError) -> JSONResponse:
    """The JSON error of an `ApiError`, logged as one line (no input values)."""
    log_client_error(route, exc.status, [exc.field])
    return JSONResponse(exc.body(), status_code=exc.status)


def _answer(route: str, call: Callable[[], Any]) -> Any:
    """The call's answer, or the JSON error of an `ApiError`."""
    try:
        return call()
    except ApiError as exc:
        return _refuse(route, exc)


@bentoml.service(name="o2c_risk", workers=1, traffic={"timeout": 60})
@bentoml.asgi_app(http, path="/")
class O2CRisk:
    """Late-payment scores, the collections worklist, credit limits and customer profiles."""

    def __init__(self) -> None:
        self.settings = load_settings()
        self.live = LiveScorer(build_scorer(self.settings))
        self.batcher = ScoreBatcher(max_rows=max(1000, self.settings.api.max_batch))
        _settle()
        logger.info("serving models %s, snapshot as of %s",
                    self.live.current.portfolio.models, self.live.current.as_of)

    @bentoml.api(input_spec=ScoreRequest)
    async def score_invoices(self, invoices: list, as_of: dt.date | None = None,
                             reasons: bool = True) -> ScoreResponse:
        """For each invoice: probability of paying late, risk band and the top reasons.

        Customer history comes from the snapshot; a customer without history gets a
        cold-start score from the invoice alone (`cold_start: true`). Up to the batch limit
        (default 1,000 invoices; more: 413). Concurrent requests are scored together
        (`serving.batcher`).
        """
        scorer = self.live.current
        try:
            rows = scorer.prepare([i.model_dump() for i in invoices], as_of)
        except ApiError as exc:
            return _refuse("/score_invoices", exc)
        scores = await self.batcher.score(scorer, rows, reasons=reasons)
        return ScoreResponse(scores=scores)

    @bentoml.api(input_spec=WorklistRequest)
    def worklist(self, top_k: int | None = None, collector: str | None = None,
                 country: str | None = None, min_amount: float | None = None,
                 include_held: bool = True) -> WorklistResponse:
        """The ranked collections worklist, filtered (rows as `o2c worklist --json`)."""
        scorer = self.live.current
        return _answer("/worklist", lambda: WorklistResponse(worklist=scorer.worklist(
            top_k=top_k, collector=collector, country=country, min_amount=min_amount,
            include_held=include_held)))

    @bentoml.api(input_spec=LimitsRequest)
    def credit_limits(self, customer_ids: list[str] | None = None) -> LimitsResponse:
        """Recommended credit limits of the customers named (empty or absent: all), and
        the ids named that have none (`not_found`); 404 only when none of them has one."""
        scorer = self.live.current
        return _answer("/credit_limits",
                       lambda: LimitsResponse(**scorer.credit_limits(customer_ids)))

    @bentoml.api(input_spec=CustomerRequest)
    def customer(self, customer_id: str) -> CustomerProfile:
        """A customer's risk profile: features, scores, open invoices, limit, reasons."""
        scorer = self.live.current
        return _answer("/customer", lambda: CustomerProfile(**scorer.customer(customer_id)))

    @bentoml.api(input_spec=ReloadRequest)
    def reload(self) -> ModelInfo:
        """Load the current champions and the latest snapshot; requests in flight finish
        on the old ones. On failure the old ones stay in service (409)."""
        try:
            settings = load_settings()
            scorer = self.live.reload(lambda: build_scorer(settings))
        except Exception as exc:  # noqa: BLE001 - whatever failed, the old state stays
            logger.exception("reload failed; still serving the previous models and snapshot")
            return JSONResponse({"error": f"reload failed, still serving the previous "
                                          f"models and snapshot: {exc}", "field": None},
                                status_code=409)
        self.settings = settings
        _settle()
        logger.info("reloaded: models %s, snapshot as of %s", scorer.portfolio.models,
                    scorer.as_of)
        return ModelInfo(**scorer.model_info())

    @http.get("/model_info", response_model=ModelInfo)
    def model_info(self) -> ModelInfo:
        """Model names, versions, aliases, training dates, validation metrics and the
        snapshot's as-of date."""
        return ModelInfo(**self.live.current.model_info())

    @http.get("/kpis", response_model=dict[str, Any])
    def kpis(self, by: str | None = None) -> Any:
        """Receivables KPIs as of the snapshot's date, as `o2c kpis --json` gives them (DSO,
        best possible DSO, ADD, CEI, aging, promises kept, open disputes); `by` (customer,
        segment or country) adds each group's figures. 400 for another `by`."""
        portfolio = self.live.current.portfolio
        try:
            check_grouping(by)
        except ValueError as exc:
            return _refuse("/kpis", ApiError(400, str(exc), "by"))
        return kpi_report(portfolio.kpis, portfolio.as_of, by)

    @http.get("/monitoring", response_model=dict[str, Any])
    def monitoring(self) -> Any:
        """The latest monitoring report (`o2c monitor` writes `<workdir>/monitoring/
        latest.json`); 404 when there is none yet."""
        path = self.settings.workdir / "monitoring" / "latest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return JSONResponse({"error": f"no monitoring report yet ({path} is absent): "
                                          "run `o2c monitor`", "field": None}, status_code=404)
        except (OSError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": f"monitoring report {path} is unreadable: {exc}",
                                 "field": None}, status_code=503)


O2CRisk.add_asgi_middleware(ApiKeyMiddleware, load=_keys)
O2CRisk.add_asgi_middleware(RequestGuard, load=_api_config)  # inside the key check
