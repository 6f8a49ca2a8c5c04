"""A step of `make demo`: a collector logs a promise through the API and the worklist holds
the customer at once, without rescoring.

`python -m o2c.workflow_tour` makes (or gives a new key to) the store user `demo-collector`,
starts `o2c serve` on a free loopback port over the demo's work folder, takes the first
customer of that collector's worklist not held, logs their promise to pay in a week with
`POST /log_promise`, shows the customer's row of `POST /worklist` before and after, and stops
the server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import typer

from o2c.common import fail
from o2c.display import console
from o2c.users import open_workflow_store, refused

USER = "demo-collector"


def _key() -> str:
    """A fresh key of the demo collector (made on first use)."""
    from serving.workflow import users
    from serving.workflow.errors import WorkflowError

    store = open_workflow_store()
    try:
        return users.add_user(store, USER, "collector")
    except WorkflowError:
        return refused(lambda: users.new_key(store, USER))


def _row(client: httpx.Client, customer: str) -> dict:
    rows = client.post("/worklist", json={}).json()["worklist"]
    return next(row for row in rows if row["customer_id"] == customer)


def _show(when: str, row: dict) -> None:
    state = f"held: {row['held_reason']}" if row["held"] else row["action"]
    console.print(f"{when}: {row['customer_id']} rank {row['rank']}, {state}; "
                  f"{row['reasons'][0]}", highlight=False, soft_wrap=True)


def main() -> None:
    """Log a promise as the demo collector and show the worklist before and after."""
    from o2c.common import load_settings_or_fail
    from serving.local import running_server

    settings = load_settings_or_fail()
    key = _key()
    log = settings.workdir / "workflow-tour.log"
    with running_server(Path(settings.workdir).resolve(), {}, log=log) as url, \
            httpx.Client(base_url=url, timeout=60,
                         headers={"Authorization": f"Bearer {key}"}) as client:
        rows = client.post("/worklist", json={}).json()["worklist"]
        row = next((r for r in rows if not r["held"]), None)
        if row is None:
            fail(f"{USER} has no customer to work on the worklist")
        console.print(f"{USER} owns {len(rows):,} customers of the worklist", highlight=False)
        _show("before", row)
        promised = (dt.date.today() + dt.timedelta(days=7)).isoformat()
        amount = round(row["overdue_amount_local"] or row["open_amount_local"] or 1.0, 2)
        answer = client.post("/log_promise", json={
            "customer_id": row["customer_id"], "promised_date": promised, "amount": amount,
            "note": "demo: promised on the phone"})
        if answer.status_code != 200:
            fail(f"POST /log_promise answered {answer.status_code}: {answer.text}")
        done = answer.json()
        console.print(f"POST /log_promise: #{done['promise_id']} by {done['user']} at "
                      f"{done['at']}: {amount:,.2f} by {promised}", highlight=False)
        _show("after", _row(client, row["customer_id"]))
    console.print(f"API stopped (log {log}); `o2c actions export --ledger L` makes the store's "
                  "promises and disputes ledger facts.", highlight=False)


if __name__ == "__main__":
    typer.run(main)
