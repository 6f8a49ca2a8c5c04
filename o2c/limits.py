"""`o2c limits`: recommended credit limits beside the decided ones; `o2c limits decide` (accept
or override a recommendation, audited) and `o2c limits export` (the effective limits for the
ERP)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from o2c import decisions
from o2c.common import fail, load_settings_or_fail
from o2c.display import console
from o2c.users import open_workflow_store, refused

if TYPE_CHECKING:
    import pandas as pd

    from o2c.settings import Settings

limits_app = typer.Typer(help="Credit limits: recommended, decided by credit managers, "
                              "exported for the ERP.")


@limits_app.callback(invoke_without_command=True)
def limits(
    ctx: typer.Context,
    ledger: Annotated[Path | None, typer.Option(
        help="Ledger folder of Parquet/CSV files, or a DuckDB database file.",
        envvar="O2C_LEDGER")] = None,
    as_of: Annotated[str | None, typer.Option(
        help="The date decisions are made on, YYYY-MM-DD (only facts dated before it are "
             "used).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the limits to this .csv or .parquet file (CSV text cells that a "
             "spreadsheet would run as a formula start with ').")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]
    = False,
) -> None:
    """Recommended credit limits beside the current and the decided ones, with grades, reasons
    and flags (from the snapshot of `o2c score` if made from the same ledger, settings and
    champions). `decide` and `export` are its subcommands."""
    if ctx.invoked_subcommand is not None:
        return
    if ledger is None:
        raise typer.BadParameter("missing: give the ledger (or set O2C_LEDGER)",
                                 param_hint="--ledger")
    if as_of is None:
        raise typer.BadParameter("missing: give the date, YYYY-MM-DD", param_hint="--as-of")
    decisions.limits(ledger, as_of, out, json_output)


def with_decisions(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Limit rows with each customer's decided limit beside the recommendation
    (`effective_limit`, `decision`, `decided_by`, `decided_at`; empty when undecided). Without
    a workflow store yet (its SQLite file absent) none is decided."""
    import pandas as pd
    from sqlalchemy.engine import make_url

    from serving.workflow import credit

    url = make_url(settings.workflow_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        decided = {}
    else:
        with open_workflow_store().begin() as session:
            decided = credit.effective_limits(session)
    extra = credit.with_effective([{"customer_id": c} for c in rows["customer_id"]], decided)
    return pd.concat([rows.reset_index(drop=True),
                      pd.DataFrame(extra, columns=["effective_limit", "decision",
                                                   "decided_by", "decided_at"])], axis=1)


@limits_app.command("queue")
def queue(
    grade: Annotated[list[str] | None, typer.Option(
        "--grade", help="Only this grade, A to E (repeat for several).")] = None,
    country: Annotated[str | None, typer.Option(help="Only customers of this country.")]
    = None,
    segment: Annotated[str | None, typer.Option(help="Only customers of this segment.")]
    = None,
    min_exposure: Annotated[float | None, typer.Option(
        min=0, help="Only customers with at least this open balance (reporting currency).")]
    = None,
    include_decided: Annotated[bool, typer.Option(
        "--include-decided", help="Keep customers already decided on this snapshot.")]
    = False,
    top: Annotated[int | None, typer.Option(min=1, help="Only the first N.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]
    = False,
) -> None:
    """The review queue of the latest snapshot: customers flagged for a limit review in the
    policy's order (credit holds, then the largest changes in expected loss), as
    `POST /review_queue` gives it."""
    import json

    from serving.workflow import credit

    bad = [g for g in grade or [] if g not in ("A", "B", "C", "D", "E")]
    if bad:
        raise typer.BadParameter(f"grades are A to E, got {', '.join(bad)}",
                                 param_hint="--grade")
    portfolio = _latest_portfolio()
    rows = credit.queue_rows(open_workflow_store(), portfolio, credit.QueueFilters(
        tuple(grade) if grade else None, country, segment, min_exposure, include_decided,
        top))
    table = Table(title=f"Review queue as of {portfolio.as_of} ({len(rows):,} customers)",
                  title_justify="left")
    for column in ("rank", "customer", "grade", "p(90+)", "open balance", "expected loss",
                   "current -> recommended", "why"):
        table.add_column(column, overflow="fold", justify="right" if column in (
            "rank", "p(90+)", "open balance", "expected loss") else "left")
    for row in rows[:20]:
        table.add_row(str(row["rank"]), row["customer_id"], row["grade"],
                      f"{row['probability']:.1%}", f"{row['exposure']:,.0f}",
                      f"{row['expected_loss']:,.0f}",
                      f"{_money(row['current_limit_local'])} -> "
                      f"{_money(row['recommended_limit_local'])} {row['currency'] or ''}",
                      "; ".join(row["review_reasons"]))
    console.print(table)
    if json_output:
        print(json.dumps({"as_of": portfolio.as_of.isoformat(), "queue": rows},
                         sort_keys=True, default=str))


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _latest_portfolio():  # noqa: ANN202 (a serving.portfolio.Portfolio)
    """The latest snapshot of the working folder; exit 1 when there is none."""
    from serving.portfolio import latest_portfolio_dir, read_portfolio

    settings = load_settings_or_fail()
    folder = latest_portfolio_dir(settings.snapshots_dir)
    if folder is None:
        fail(f"no portfolio snapshot in {settings.snapshots_dir}: run `o2c score` first")
    return read_portfolio(folder)


@limits_app.command("decide")
def decide(
    customer: Annotated[str, typer.Argument(help="The customer's id.")],
    user: Annotated[str, typer.Option(help="Who decides: a credit_manager or admin of "
                                           "`o2c users list`.")],
    accept: Annotated[bool, typer.Option(
        "--accept", help="Make the recommended limit the customer's limit.")] = False,
    override: Annotated[float | None, typer.Option(
        min=0, help="Set this limit instead, in the customer's currency (needs --reason).")]
    = None,
    reason: Annotated[str | None, typer.Option(
        help="Why (required with --override); kept in the audit log.")] = None,
) -> None:
    """Accept or override a customer's recommended limit (from the latest snapshot), as a
    credit manager; the decision and what was recommended are written to the audit log."""
    from serving.workflow import credit, users
    from serving.workflow.errors import WorkflowError

    if accept == (override is not None):
        raise typer.BadParameter("give exactly one of --accept and --override AMOUNT",
                                 param_hint="--accept/--override")
    portfolio = _latest_portfolio()
    store = open_workflow_store()

    def run() -> credit.LimitDecision:
        with store.begin() as session:
            person = users.get_user(session, user)
            role, active = person.role, person.active
        if role not in ("credit_manager", "admin") or not active:
            raise WorkflowError(f"user {user!r} ({role}{'' if active else ', disabled'}) may "
                                "not decide limits: credit managers and admins do", "user", 403)
        return credit.decide(store, portfolio, customer, user=user, role=role,
                             decision="accept" if accept else "override", limit=override,
                             reason=reason)

    made = refused(run)
    console.print(f"{made.decision}: {made.customer_id}'s limit is {made.limit:,.2f} "
                  f"{made.currency or ''} (recommended {made.recommended_limit or 0:,.2f}, "
                  f"model v{made.model_version}, snapshot {made.snapshot_as_of}), decided by "
                  f"{made.decided_by}", highlight=False, markup=False)


@limits_app.command("export")
def export(
    out: Annotated[Path, typer.Option(
        help="The .csv or .parquet file to write (atomically; CSV text cells a spreadsheet "
             "would run as a formula start with ').")],
) -> None:
    """Every decided limit for the ERP: customer, currency, limit, decided by, decided at
    (UTC); the latest decision of each customer."""
    from o2c.export import write_rows
    from serving.workflow import credit

    with open_workflow_store().begin() as session:
        rows = credit.export_frame(session)
    try:
        write_rows(rows, out)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"Wrote {out}: {len(rows):,} decided limit(s)", highlight=False)
