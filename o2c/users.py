"""`o2c users` and `o2c db`: the workflow store's accounts and keys, and its schema."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from o2c.common import fail, load_settings_or_fail
from o2c.display import console, err_console

if TYPE_CHECKING:  # the store's modules load SQLAlchemy and Alembic: only when used
    from serving.workflow.db import Store

users_app = typer.Typer(help="People who use the API and the app: roles, keys, passwords.",
                        no_args_is_help=True)
db_app = typer.Typer(help="The workflow store's database (O2C_DATABASE_URL).",
                     no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).")]


def open_workflow_store() -> Store:
    """The workflow store the settings name, upgraded to the latest schema; exit 1 with a
    clear message when it cannot be opened."""
    from serving.workflow.db import StoreError, store_for

    settings = load_settings_or_fail()
    try:
        return store_for(settings.workflow_url)
    except StoreError as exc:
        fail(str(exc))


def refused(call):  # noqa: ANN001, ANN201 (any callable of the store)
    """The call's result; a `WorkflowError` printed (naming the field) and exit 1."""
    from serving.workflow.errors import WorkflowError

    try:
        return call()
    except WorkflowError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message)


def _show_key(name: str, key: str) -> None:
    err_console.print(f"API key of {name} (shown once; keep it secret):", highlight=False)
    print(key)


@users_app.command("add")
def add(
    name: NameArg,
    role: Annotated[str, typer.Option(help="collector, credit_manager or admin.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read a password (8+ characters, for the web app's sign-in) "
                                 "from the first line of standard input.")] = False,
) -> None:
    """Add a user with a role; print their first API key, once."""
    from serving.workflow import users

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: standard input holds no password")
    store = open_workflow_store()
    key = refused(lambda: users.add_user(store, name, role, password=password))
    _show_key(name, key)


@users_app.command("list")
def list_() -> None:
    """Every user: role, whether active, working keys, whether they have a password."""
    from serving.workflow import users

    table = Table(title="Users", title_justify="left")
    for column in ("name", "role", "active", "keys", "password", "created (UTC)"):
        table.add_column(column, justify="right" if column == "keys" else "left")
    for user in users.list_users(open_workflow_store()):
        table.add_row(user.name, user.role, "yes" if user.active else "no", str(user.keys),
                      "yes" if user.password else "no",
                      user.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@users_app.command("key")
def key(
    name: NameArg,
    keep_old: Annotated[bool, typer.Option(
        "--keep-old", help="Keep the user's older keys working (default: they stop).")]
    = False,
) -> None:
    """Give a user a new API key, printed once; their older keys stop working."""
    from serving.workflow import users

    store = open_workflow_store()
    _show_key(name, refused(lambda: users.new_key(store, name, keep_old=keep_old)))


@users_app.command("disable")
def disable(name: NameArg) -> None:
    """Disable a user: their keys and password no longer let them in; their actions stay."""
    from serving.workflow import users

    store = open_workflow_store()
    refused(lambda: users.disable_user(store, name))
    console.print(f"Disabled {name}", highlight=False)


@db_app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the workflow store's tables to the latest revision (the API does
    this too when it starts)."""
    from serving.workflow.db import current_revision, shown

    settings = load_settings_or_fail()
    store = open_workflow_store()
    console.print(f"Workflow store {shown(settings.workflow_url)} at revision "
                  f"{current_revision(store.engine)}", highlight=False, soft_wrap=True)
