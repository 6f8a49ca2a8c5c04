"""`o2c log ...`, `o2c assign` and `o2c actions export`: the collectors' actions from the
command line, thin shells over `serving.workflow` (the same functions as the API)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from o2c.common import LedgerOption, fail, load_settings_or_fail, parse_date
from o2c.display import console
from o2c.users import open_workflow_store, refused

if TYPE_CHECKING:
    import pandas as pd

    from o2c.settings import Settings
    from serving.portfolio import Portfolio
    from serving.workflow.actions import Book
    from serving.workflow.db import Store
    from serving.workflow.users import Actor

log_app = typer.Typer(help="Record what a collector did: a contact, a promise to pay, a dispute "
                           "opened or resolved, a note.", no_args_is_help=True)
actions_app = typer.Typer(help="The collectors' actions as ledger facts.", no_args_is_help=True)

UserOption = Annotated[str, typer.Option("--user", help="Who did it: a user of `o2c users "
                                                        "list` (recorded with the action).")]
CustomerArg = Annotated[str, typer.Argument(help="The customer's id, as in the ledger.")]
NoteOption = Annotated[str | None, typer.Option(help="A free-text note.")]


def _context(user: str) -> tuple[Store, Actor, Book]:
    """The store, the acting user (active, from the store) and the book of the latest
    snapshot the settings point at; exit 1 saying what is missing."""
    from serving.portfolio import latest_portfolio_dir, read_portfolio
    from serving.workflow.actions import Book
    from serving.workflow.users import Actor, get_user

    settings = load_settings_or_fail()
    store = open_workflow_store()

    def actor() -> Actor:
        with store.begin() as session:
            found = get_user(session, user)
            if not found.active:
                fail(f"--user: user {user!r} is disabled")
            return Actor(found.name, found.role)

    acting = refused(actor)
    folder = latest_portfolio_dir(settings.snapshots_dir)
    if folder is None:
        fail(f"no portfolio snapshot in {settings.snapshots_dir}: run `o2c score` first")
    return store, acting, Book.of(read_portfolio(folder))


def with_store_actions(portfolio: Portfolio, settings: Settings) -> pd.DataFrame:
    """The portfolio's worklist; as of the latest snapshot's date, with the workflow store's
    promises and disputes laid over it as of today (`serving.workflow.overlay`)."""
    from serving.portfolio import latest_portfolio_dir, manifest_date
    from serving.workflow.overlay import overlaid_frame

    latest = latest_portfolio_dir(settings.snapshots_dir)
    if latest is None or manifest_date(latest) != portfolio.as_of:
        return portfolio.worklist
    return overlaid_frame(portfolio, open_workflow_store(), settings.worklist, dt.date.today())


def _done(row: dict) -> None:
    console.print(f"Recorded {row['kind'].replace('_', ' ')} #{row['id']} for customer "
                  f"{row['customer_id']} by {row['user']} at {row['at']}", highlight=False)


@log_app.command("contact")
def contact(
    customer: CustomerArg,
    user: UserOption,
    channel: Annotated[str, typer.Option(help="call, email or letter.")],
    outcome: Annotated[str, typer.Option(help="What came of it.")],
    note: NoteOption = None,
) -> None:
    """Log a call, e-mail or letter to a customer and its outcome."""
    from serving.workflow import actions

    store, actor, book = _context(user)
    _done(refused(lambda: actions.log_contact(store, actor, book, customer_id=customer,
                                              channel=channel, outcome=outcome, note=note)))


@log_app.command("promise")
def promise(
    customer: CustomerArg,
    user: UserOption,
    date: Annotated[str, typer.Option("--date", help="Promised payment date, YYYY-MM-DD "
                                                     "(today or later).")],
    amount: Annotated[float, typer.Option(help="Amount promised, in the customer's currency.")],
    invoice: Annotated[list[str] | None, typer.Option(
        "--invoice", help="An open invoice the promise covers (repeat for several); none: "
                          "the customer's balance.")] = None,
    note: NoteOption = None,
) -> None:
    """Log a promise to pay: the worklist holds the customer at once."""
    from serving.workflow import actions

    promised = parse_date(date, "--date")
    store, actor, book = _context(user)
    _done(refused(lambda: actions.log_promise(store, actor, book, customer_id=customer,
                                              promised_date=promised, amount=amount,
                                              invoice_ids=invoice or [], note=note)))


@log_app.command("dispute")
def dispute(
    invoice: Annotated[str, typer.Argument(help="The open invoice disputed.")],
    user: UserOption,
    reason: Annotated[str, typer.Option(help="Why the customer disputes it.")],
) -> None:
    """Open a dispute on an open invoice."""
    from serving.workflow import actions

    store, actor, book = _context(user)
    _done(refused(lambda: actions.open_dispute(store, actor, book, invoice_id=invoice,
                                               reason=reason)))


@log_app.command("resolve")
def resolve(
    invoice: Annotated[str, typer.Argument(help="The invoice whose open dispute is resolved.")],
    user: UserOption,
    resolution: Annotated[str, typer.Option(help="How it was resolved.")],
) -> None:
    """Resolve the open dispute on an invoice."""
    from serving.workflow import actions

    store, actor, _ = _context(user)
    _done(refused(lambda: actions.resolve_dispute(store, actor, invoice_id=invoice,
                                                  resolution=resolution)))


@log_app.command("note")
def note_(
    customer: CustomerArg,
    user: UserOption,
    text: Annotated[str, typer.Option("--text", help="The note.")],
    invoice: Annotated[str | None, typer.Option(help="An open invoice it is about.")] = None,
) -> None:
    """Add a note to a customer's activity log."""
    from serving.workflow import actions

    store, actor, book = _context(user)
    _done(refused(lambda: actions.add_note(store, actor, book, customer_id=customer, note=text,
                                           invoice_id=invoice)))


def assign(
    customer: CustomerArg,
    to: Annotated[str, typer.Option("--to", help="The collector who owns the customer from "
                                                 "now on.")],
    user: UserOption,
) -> None:
    """Give a customer to another collector (kept until reassigned; recorded who and when)."""
    from serving.workflow.ownership import reassign

    store, actor, book = _context(user)
    row = refused(lambda: reassign(store, actor, book, customer_id=customer, to=to))
    console.print(f"{customer}: {row['note']} by {row['user']} at {row['at']}", highlight=False)


@actions_app.command("export")
def export(ledger: LedgerOption) -> None:
    """Merge the store's promises and disputes into the ledger folder's promises and disputes
    files, dated by the day they were logged (features read them from the next day on);
    exporting again replaces what was exported before."""
    from serving.workflow.facts import export_actions

    store = open_workflow_store()
    counts = refused(lambda: export_actions(Path(ledger), store))
    console.print(f"Exported {counts['promises']:,} promise row(s) and {counts['disputes']:,} "
                  f"dispute row(s) into {ledger}", highlight=False)
