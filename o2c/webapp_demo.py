"""`o2c demo-users`: a user of each role for trying the web app, with a generated password
printed once, and the app's address."""

from __future__ import annotations

import secrets
import string
from typing import Annotated

import typer

from o2c.display import console
from o2c.users import open_workflow_store, refused

DEMO_USERS = {"demo-collector": "collector", "demo-manager": "credit_manager",
              "demo-admin": "admin"}
"""Name -> role of the demo's users."""
ALPHABET = string.ascii_letters + string.digits
"""Characters of a generated password (easy to copy: no punctuation)."""


def demo_users(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port `o2c serve` listens on "
                                      "(for the address printed).")] = 3000,
) -> None:
    """Make a user of each role (collector, credit_manager, admin) for the web app, each with
    a generated password printed once (users that have a password are left as they are; one
    made without, such as the workflow tour's collector, gets one), and print the app's
    address."""
    from serving.workflow.users import add_user, list_users, set_password

    store = open_workflow_store()
    existing = {user.name: user for user in list_users(store)}
    console.print(f"The web app: http://127.0.0.1:{port}/app/login (start it with "
                  "`make serve` or `o2c serve`)", highlight=False)
    for name, role in DEMO_USERS.items():
        if name in existing and existing[name].password:
            console.print(f"  {role:<15} {name:<15} exists already (its password was printed "
                          "when it was made)", highlight=False)
            continue
        password = "".join(secrets.choice(ALPHABET) for _ in range(16))
        if name in existing:
            refused(lambda n=name, p=password: set_password(store, n, p))
        else:
            refused(lambda n=name, r=role, p=password: add_user(store, n, r, password=p))
        console.print(f"  {role:<15} {name:<15} password {password}  (shown once)",
                      highlight=False)
