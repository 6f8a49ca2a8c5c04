"""Portfolio ownership: every customer on the worklist belongs to one collector, given by the
configured rule the first time they are seen and kept until someone reassigns them.

Rules (`[workflow] assign_by`): `balanced` (the active collector owning the fewest customers,
ties by name), `segment` or `country` (`assign_rules` maps a value to a collector; balanced
when none matches). Reassignments are recorded in the activity and audit logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from serving.workflow.actions import Book, log_activity
from serving.workflow.base import now
from serving.workflow.config import WorkflowConfig
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError
from serving.workflow.tables import Activity, Owner, User
from serving.workflow.users import Actor, actor_user


def collectors(store: Store) -> list[str]:
    """Names of the active users with the collector role, in name order."""
    with store.begin() as session:
        return list(session.scalars(select(User.name).where(
            User.role == "collector", User.active).order_by(User.name)))


def version(store: Store) -> tuple:
    """What changes whenever an action is logged or an owner given: the latest activity and
    the owners' count and latest date (cheap to read, for caching what depends on them)."""
    with store.begin() as session:
        latest = session.scalar(select(func.max(Activity.id)))
        count, since = session.execute(select(func.count(Owner.customer_id),
                                              func.max(Owner.since))).one()
    return latest, count, since


def owners(store: Store) -> dict[str, str]:
    """Customer id -> the name of the collector who owns them."""
    with store.begin() as session:
        return dict(session.execute(select(Owner.customer_id, User.name)
                                    .join(User, Owner.user_id == User.id)).all())


def assign_new(store: Store, customer_ids: Iterable[str], customers: pd.DataFrame,
               config: WorkflowConfig) -> dict[str, str]:
    """Give each customer without an owner a collector by the rule (`customers`: the
    snapshot's, with `customer_id`, `segment` and `country`); every owner afterwards. Without
    active collectors nobody is assigned."""
    known = owners(store)
    new = [c for c in dict.fromkeys(customer_ids) if c not in known]
    names = collectors(store)
    if not new or not names:
        return known
    profile = _profiles(customers, new)
    try:
        with store.begin() as session:
            ids = dict(session.execute(select(User.name, User.id)
                                       .where(User.name.in_(names))).all())
            counts = Counter(dict(session.execute(
                select(User.name, func.count(Owner.customer_id))
                .join(Owner, Owner.user_id == User.id)
                .where(User.name.in_(names)).group_by(User.name)).all()))
            chosen = {}
            for customer in new:
                name = _by_rule(profile.get(customer, {}), config, names, counts)
                counts[name] += 1
                chosen[customer] = name
            since = now()
            session.execute(insert(Owner), [{"customer_id": c, "user_id": ids[n], "since": since}
                                            for c, n in chosen.items()])
    except IntegrityError:  # another request assigned some of them first: theirs stand
        return owners(store)
    return {**known, **chosen}


def _profiles(customers: pd.DataFrame, ids: list[str]) -> dict[str, dict[str, Any]]:
    columns = [c for c in ("segment", "country") if c in customers]
    frame = customers.drop_duplicates("customer_id").set_index("customer_id")[columns]
    return frame.reindex(ids).astype(object).where(frame.reindex(ids).notna(), None
                                                   ).to_dict("index")


def _by_rule(customer: Mapping[str, Any], config: WorkflowConfig, names: list[str],
             counts: Counter) -> str:
    if config.assign_by != "balanced":
        ruled = config.assign_rules.get(str(customer.get(config.assign_by)))
        if ruled in names:
            return ruled
    return min(names, key=lambda name: (counts[name], name))


def reassign(store: Store, actor: Actor, book: Book, *, customer_id: str,
             to: str) -> dict[str, Any]:
    """Give a customer to another collector, recorded with who and when."""
    book.customer(customer_id)
    with store.begin() as session:
        user = session.scalars(select(User).where(User.name == to)).one_or_none()
        if user is None:
            raise WorkflowError(f"unknown user {to!r} (`o2c users list` shows them)", "to", 404)
        if user.role != "collector" or not user.active:
            raise WorkflowError(f"{to!r} is not an active collector", "to")
        owner = session.get(Owner, customer_id)
        before = owner.user.name if owner is not None else None
        by = actor_user(session, actor)
        if owner is None:
            session.add(Owner(customer_id=customer_id, user_id=user.id, assigned_by=by.id))
        else:
            owner.user_id, owner.since, owner.assigned_by = user.id, now(), by.id
        note = f"assigned to {to}" + (f" (was {before})" if before else "")
        return {**log_activity(session, actor, "assigned", customer_id,
                       {"to": to, "from": before}, note=note), "to": to, "from": before}
