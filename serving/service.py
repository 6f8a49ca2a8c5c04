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
import orjson
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, RedirectResponse, Response

from features.kpis import check_grouping, kpi_report
from o2c.settings import Settings, load_settings
from serving.auth import ApiKeyMiddleware, load_api_keys
from serving.batcher import ScoreBatcher
from serving.config import ApiConfig
from serving.guard import RequestGuard, log_client_error
from serving.schemas import (
    ActionRecord,
    AlertsRequest,
    AlertsResponse,
    ContactRequest,
    CustomerProfile,
    CustomerRequest,
    DecideLimitRequest,
    DecideLimitResponse,
    LimitsRequest,
    LimitsResponse,
    ModelInfo,
    NoteRequest,
    OpenDisputeRequest,
    PromiseRequest,
    ReloadRequest,
    ResolveDisputeRequest,
    ReviewQueueRequest,
    ReviewQueueResponse,
    ScoreRequest,
    ScoreResponse,
    WorklistRequest,
    WorklistResponse,
)
from serving.scoring import ApiError, LiveScorer, Scorer
from serving.state import load_scorer
from serving.webapp.app import create_app
from serving.webapp.backend import Backend
from serving.webapp.security import session_secret
from serving.workflow import actions, alerts, credit, customer_view, ownership
from serving.workflow.customer_view import LedgerCache
from serving.workflow.db import store_for
from serving.workflow.desk import Desk, actor_of, key_lookup
from serving.workflow.errors import WorkflowError
from serving.workflow.users import Actor

logger = logging.getLogger(__name__)

http = FastAPI(title="o2c-risk GET endpoints", docs_url=None, redoc_url=None,
               openapi_url=None, redirect_slashes=False)
"""GET endpoints, mounted on the service (BentoML APIs are POST only)."""
webapp = create_app(lambda: bentoml.get_current_service().web)
"""The web app for collectors and credit managers (`serving.webapp`), mounted at /app."""


@http.get("/app", include_in_schema=False)
def app_home() -> RedirectResponse:
    """`/app` opens the web app: the worklist, or the sign-in form first."""
    return RedirectResponse("/app/worklist", status_code=303)


def build_scorer(settings: Settings) -> Scorer:
    """A scorer from the champions and the latest snapshot the settings point at."""
    tracking = settings.registry()
    return load_scorer(tracking=tracking, snapshots_dir=settings.snapshots_dir,
                       api=settings.api)


def build_web_backend(settings: Settings, live: LiveScorer, desk: Desk,
                      ledger: Callable[[], Any]) -> Backend:
    """What the web app reads and writes: the live scorer, the workflow store as the API's
    endpoints use it (`desk`) and the ledger of the customer views."""
    secret = session_secret(settings.webapp_secret_key or settings.webapp.secret_key,
                            settings.workdir)
    return Backend(live=live, desk=desk, ledger=ledger, workdir=settings.workdir,
                   config=settings.webapp, secret=secret)


def _keys() -> dict[str, str]:
    settings = load_settings()
    return load_api_keys(settings.api_keys, settings.api_keys_file)


def _store_users() -> Callable[[str], tuple[str, str] | None]:
    return key_lookup(load_settings().workflow_url)


def _api_config() -> ApiConfig:
    return load_settings().api


def _settle() -> None:
    """Move what is loaded now out of the garbage collector's sight (`gc.freeze`): the
    snapshot's many small objects would otherwise make each full collection pause requests
    for a few hundred milliseconds. Unfrozen first, so a reload collects the old state."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _refuse(route: str, exc: ApiError | WorkflowError) -> JSONResponse:
    """The JSON error of an `ApiError` or `WorkflowError`, logged as one line (no input
    values)."""
    log_client_error(route, exc.status, [exc.field])
    return JSONResponse(exc.body(), status_code=exc.status)


def _answer(route: str, call: Callable[[], Any]) -> Any:
    """The call's answer, or the JSON error of an `ApiError` or `WorkflowError`."""
    try:
        return call()
    except (ApiError, WorkflowError) as exc:
        return _refuse(route, exc)


@bentoml.service(name="o2c_risk", workers=1, traffic={"timeout": 60})
@bentoml.asgi_app(http, path="/")
@bentoml.asgi_app(webapp, path="/app")  # applied first: matched before the "/" mount
class O2CRisk:
    """Late-payment scores, the collections worklist, credit limits and customer profiles."""

    def __init__(self) -> None:
        self.settings = load_settings()
        self.live = LiveScorer(build_scorer(self.settings))
        self.batcher = ScoreBatcher(max_rows=max(1000, self.settings.api.max_batch))
        self.desk = Desk(self.settings.workflow_url, self.settings.workflow,
                         self.settings.worklist)
        self.store = store_for(self.settings.workflow_url)
        self.ledger = LedgerCache(self.settings.ledger)
        self._raise_alerts()
        self.web = build_web_backend(self.settings, self.live, self.desk,
                                     lambda: self.ledger.get())
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
        # the rows are the schema's JSON already: written as they are (orjson), not validated
        # again (for 1,000 invoices about 15 ms of the request)
        return Response(orjson.dumps({"scores": scores}), media_type="application/json")

    @bentoml.api(input_spec=WorklistRequest)
    def worklist(self, ctx: bentoml.Context, top_k: int | None = None,
                 collector: str | None = None, country: str | None = None,
                 min_amount: float | None = None,
                 include_held: bool = True) -> WorklistResponse:
        """The ranked collections worklist, filtered (rows as `o2c worklist --json`), with the
        workflow store's promises and disputes laid over it at once (a promise not yet due
        holds the customer, a broken one brings them up) and each customer's owner as
        `collector`: a collector of the store sees their own customers."""
        scorer = self.live.current
        return self._as_user("/worklist", ctx, lambda actor: WorklistResponse(
            worklist=self.desk.worklist(scorer, actor, top_k=top_k, collector=collector,
                                        country=country, min_amount=min_amount,
                                        include_held=include_held)))

    def _as_user(self, route: str, ctx: bentoml.Context, call: Callable[[Any], Any]) -> Any:
        """The call's answer for the user on the request; a refusal as its JSON error, the
        store unreachable as 503."""
        try:
            return call(actor_of(ctx.request.headers))
        except (ApiError, WorkflowError) as exc:
            refusal = _refuse(route, exc)
        except SQLAlchemyError:
            logger.exception("the workflow store failed on %s", route)
            refusal = JSONResponse({"error": "the workflow store is unavailable; try again",
                                    "field": None}, status_code=503)
        ctx.response.status_code = refusal.status_code  # BentoML answers with ctx's status
        return refusal

    def _record(self, route: str, ctx: bentoml.Context, action: Callable) -> Any:
        """Run a collector's action of `serving.workflow.actions` as the user on the request
        (`action(store, actor, book)`); the action as recorded."""
        scorer = self.live.current
        answer = self._as_user(route, ctx, lambda actor: ActionRecord(
            **self.desk.act(scorer, actor, action)))
        if isinstance(answer, ActionRecord):
            self._raise_alerts(snapshot=False)
        return answer

    @bentoml.api(input_spec=ContactRequest)
    def log_contact(self, ctx: bentoml.Context, customer_id: str, channel: str, outcome: str,
                    note: str | None = None) -> ActionRecord:
        """Record a call, e-mail or letter to a customer and its outcome."""
        return self._record("/log_contact", ctx, lambda store, actor, book: actions.log_contact(
            store, actor, book, customer_id=customer_id, channel=channel, outcome=outcome,
            note=note))

    @bentoml.api(input_spec=PromiseRequest)
    def log_promise(self, ctx: bentoml.Context, customer_id: str, promised_date: dt.date,
                    amount: float, invoice_ids: list[str] | None = None,
                    note: str | None = None) -> ActionRecord:
        """Record a promise to pay `amount` (the customer's currency) by `promised_date` (today
        or later) on some open invoices, or none named on the balance. The worklist holds the
        customer at once; the promise reaches the ledger with `o2c actions export`."""
        return self._record("/log_promise", ctx, lambda store, actor, book: actions.log_promise(
            store, actor, book, customer_id=customer_id, promised_date=promised_date,
            amount=amount, invoice_ids=invoice_ids or [], note=note))

    @bentoml.api(input_spec=OpenDisputeRequest)
    def open_dispute(self, ctx: bentoml.Context, invoice_id: str, reason: str) -> ActionRecord:
        """Open a dispute on an open invoice, with its reason (409 if one is open already)."""
        return self._record("/open_dispute", ctx, lambda store, actor, book: (
            actions.open_dispute(store, actor, book, invoice_id=invoice_id, reason=reason)))

    @bentoml.api(input_spec=ResolveDisputeRequest)
    def resolve_dispute(self, ctx: bentoml.Context, resolution: str,
                        dispute_id: int | None = None,
                        invoice_id: str | None = None) -> ActionRecord:
        """Resolve the open dispute named by `dispute_id` or `invoice_id`."""
        return self._record("/resolve_dispute", ctx, lambda store, actor, _book: (
            actions.resolve_dispute(store, actor, resolution=resolution, dispute_id=dispute_id,
                                    invoice_id=invoice_id)))

    @bentoml.api(input_spec=NoteRequest)
    def add_note(self, ctx: bentoml.Context, customer_id: str, note: str,
                 invoice_id: str | None = None) -> ActionRecord:
        """Add a note on a customer (or one of their open invoices) to their activity log."""
        return self._record("/add_note", ctx, lambda store, actor, book: actions.add_note(
            store, actor, book, customer_id=customer_id, note=note, invoice_id=invoice_id))

    @bentoml.api(input_spec=LimitsRequest)
    def credit_limits(self, customer_ids: list[str] | None = None) -> LimitsResponse:
        """Recommended credit limits of the customers named (empty or absent: all), and
        the ids named that have none (`not_found`); 404 only when none of them has one."""
        scorer = self.live.current

        def limits() -> LimitsResponse:
            answer = scorer.credit_limits(customer_ids)
            rows = credit.limits_with_decisions(self.store, answer["limits"],
                                                every=not customer_ids)
            return LimitsResponse(limits=rows, not_found=answer["not_found"])

        return _answer("/credit_limits", limits)

    @bentoml.api(input_spec=ReviewQueueRequest)
    def review_queue(self, grades: list[str] | None = None, country: str | None = None,
                     segment: str | None = None, min_exposure: float | None = None,
                     include_decided: bool = False,
                     top_k: int | None = None) -> ReviewQueueResponse:
        """Customers flagged for a limit review in the policy's order (credit holds, then the
        largest changes in expected loss), filtered; without those already decided on this
        snapshot unless `include_decided`. Each row has its decision beside it."""
        portfolio = self.live.current.portfolio
        filters = credit.QueueFilters(tuple(grades) if grades else None, country, segment,
                                      min_exposure, include_decided, top_k)
        return _answer("/review_queue", lambda: ReviewQueueResponse(
            as_of=portfolio.as_of, queue=credit.queue_rows(self.store, portfolio, filters)))

    @bentoml.api(input_spec=DecideLimitRequest)
    def decide_limit(self, ctx: bentoml.Context, customer_id: str, decision: str,
                     limit: float | None = None,
                     reason: str | None = None) -> DecideLimitResponse:
        """Accept a customer's recommended limit or override it (`limit`, in the customer's
        currency, with a `reason`); credit managers and admins only. The decision, the
        recommendation and model version it was made on and the reasons shown go to the audit
        log; the decided limit is the effective one (`/credit_limits`, `o2c limits export`)."""
        portfolio = self.live.current.portfolio
        return self._as_user("/decide_limit", ctx, lambda actor: DecideLimitResponse(
            decision=credit.decide(self.store, portfolio, customer_id, user=actor.name,
                                   role=actor.role, decision=decision, limit=limit,
                                   reason=reason).as_dict()))

    @bentoml.api(input_spec=AlertsRequest)
    def alerts(self, ctx: bentoml.Context, kinds: list[str] | None = None,
               limit: int = 200) -> AlertsResponse:
        """The caller's alerts, newest first (an admin: everyone's): grade drops, utilization
        over the limit, broken promises, invoices 90+ days past due, monitoring verdicts."""
        def mine(actor: Actor) -> AlertsResponse:
            self._raise_alerts(snapshot=False)  # promises logged in the store, broken by now
            with self.store.begin() as session:
                found = alerts.alerts_for(session, user=actor.name, admin=actor.role == "admin",
                                          kinds=kinds, limit=limit)
                return AlertsResponse(alerts=[a.as_dict() for a in found])

        return self._as_user("/alerts", ctx, mine)

    @bentoml.api(input_spec=CustomerRequest)
    def customer(self, customer_id: str) -> CustomerProfile:
        """A customer's single view: its risk profile (features, scores, open invoices, limit,
        reasons), its ledger (name, attributes, every invoice with disputes and promises
        marked, payments, credit notes, disputes, promises kept or broken; with O2C_LEDGER),
        its grade and limit history over the snapshots, its owner, activity log, limit
        decisions and audit trail."""
        scorer = self.live.current
        return _answer("/customer", lambda: CustomerProfile(**customer_view.customer_view(
            scorer.customer(customer_id), ledger=self.ledger.get(),
            snapshots_dir=self.settings.snapshots_dir, store=self.store)))

    def _raise_alerts(self, *, snapshot: bool = True) -> None:
        """Store (and send) the new alerts: of the snapshot in service against the previous
        one and of the monitoring report (`snapshot`), and of promises logged in the store and
        broken by today. A failure is logged, never stops the service or a request."""
        portfolio, config = self.live.current.portfolio, self.settings.alerts
        try:
            drafts = alerts.snapshot_alerts(
                portfolio, snapshots_dir=self.settings.snapshots_dir,
                monitoring_path=self.settings.workdir / "monitoring" / "latest.json",
                config=config) if snapshot else []
            drafts += alerts.store_promise_alerts(self.store, portfolio, self.settings.worklist,
                                                  dt.date.today(), config)
            fresh = alerts.raise_alerts(self.store, drafts, as_of=portfolio.as_of,
                                        config=config)
        except Exception:  # noqa: BLE001 - alerts never stop the service or a request
            logger.exception("could not compute the alerts")
            return
        if fresh:
            logger.info("%d new alert(s)", len(fresh))

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
        self.ledger = LedgerCache(settings.ledger)
        self._raise_alerts()
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
        segment, country or collector: the store's owners, "unassigned" without one) adds
        each group's figures. 400 for another `by`."""
        portfolio = self.live.current.portfolio
        try:
            check_grouping(by)
            owners = ownership.owners(self.store) if by == "collector" else None
        except ValueError as exc:
            return _refuse("/kpis", ApiError(400, str(exc), "by"))
        except SQLAlchemyError:
            logger.exception("the workflow store failed on /kpis")
            return JSONResponse({"error": "the workflow store is unavailable; try again",
                                 "field": None}, status_code=503)
        return kpi_report(portfolio.kpis, portfolio.as_of, by, owners)

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


O2CRisk.add_asgi_middleware(ApiKeyMiddleware, load=_keys, users=_store_users)
O2CRisk.add_asgi_middleware(RequestGuard, load=_api_config)  # inside the key check
