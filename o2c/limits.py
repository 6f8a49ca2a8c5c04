"""`o2c limits`: recommended credit limits beside the decided ones; `o2c limits decide` (accept
or override a recommendation, audited) and `o2c limits export` (the effective limits for the
ERP)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    from serving.portfolio import latest_portfolio_dir, read_portfolio
    from serving.workflow import credit, users
    from serving.workflow.errors import WorkflowError

    if accept == (override is not None):
        raise typer.BadParameter("give exactly one of --accept and --override AMOUNT",
                                 param_hint="--accept/--override")
    settings = load_settings_or_fail()
    folder = latest_portfolio_dir(settings.snapshots_dir)
    if folder is None:
        fail(f"no portfolio snapshot in {settings.snapshots_dir}: run `o2c score` first")
    portfolio = read_portfolio(folder)
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
