"""Users, roles, API keys and passwords of the workflow store.

A key is shown once, when made (`secrets.token_urlsafe`), and kept as its SHA-256 digest; a
password is kept as an argon2 hash. A disabled user's keys and password no longer let them in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.workflow.base import now
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError
from serving.workflow.tables import ROLES, ApiKey, User

KEY_BYTES = 32
"""Random bytes in a new key (43 URL-safe characters)."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
"""A user name: letters, digits, `.`, `_`, `@`, `-`; up to 100 characters."""
MIN_PASSWORD = 8

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who does something: a user name and role (`env:<role>` for keys from O2C_API_KEYS)."""

    name: str
    role: str


@dataclass(frozen=True)
class UserInfo:
    """A user as `o2c users list` shows them."""

    name: str
    role: str
    active: bool
    keys: int
    password: bool
    created_at: dt.datetime


def key_digest(key: str) -> str:
    """The SHA-256 digest of a key, as stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise WorkflowError(f"unknown role {role!r}: roles are {', '.join(ROLES)}", "role")
    return role


def get_user(session: Session, name: str) -> User:
    """The user named `name`; WorkflowError (404) when there is none."""
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise WorkflowError(f"unknown user {name!r} (`o2c users list` shows them)", "user",
                            404)
    return user


def _new_key(session: Session, user: User) -> str:
    key = secrets.token_urlsafe(KEY_BYTES)
    session.add(ApiKey(user=user, digest=key_digest(key)))
    return key


def add_user(store: Store, name: str, role: str, *, password: str | None = None) -> str:
    """Create a user with `role` (and a password, if given); their first API key, to show
    once."""
    if not NAME.fullmatch(name or ""):
        raise WorkflowError(f"user name {name!r} must be 1 to 100 letters, digits, '.', '_', "
                            "'@' or '-', starting with a letter or digit", "name")
    _check_role(role)
    hashed = hash_password(password) if password is not None else None
    with store.begin() as session:
        if session.scalars(select(User.id).where(User.name == name)).first() is not None:
            raise WorkflowError(f"user {name!r} exists already (`o2c users key {name}` gives "
                                "a new key)", "name", 409)
        user = User(name=name, role=role, password_hash=hashed)
        session.add(user)
        return _new_key(session, user)


def hash_password(password: str) -> str:
    """The argon2 hash of a password of at least MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"the password must have at least {MIN_PASSWORD} characters",
                            "password")
    return _hasher.hash(password)


def new_key(store: Store, name: str, *, keep_old: bool = False) -> str:
    """A new API key for the user, to show once; their older keys stop working unless
    `keep_old`."""
    with store.begin() as session:
        user = get_user(session, name)
        if not keep_old:
            for key in user.keys:
                if key.revoked_at is None:
                    key.revoked_at = now()
        return _new_key(session, user)


def set_password(store: Store, name: str, password: str) -> None:
    """Give the user a (new) password for the web app."""
    hashed = hash_password(password)
    with store.begin() as session:
        get_user(session, name).password_hash = hashed


def disable_user(store: Store, name: str) -> None:
    """Disable a user: their keys and password let them in no more (their actions stay)."""
    with store.begin() as session:
        get_user(session, name).active = False


def list_users(store: Store) -> list[UserInfo]:
    """Every user, by name, with how many working keys they have."""
    with store.begin() as session:
        users = session.scalars(select(User).order_by(User.name)).all()
        return [UserInfo(u.name, u.role, u.active,
                         sum(1 for k in u.keys if k.revoked_at is None),
                         u.password_hash is not None, u.created_at) for u in users]


def actor_for_digest(store: Store, digest: str) -> Actor | None:
    """The active user whose working key has this digest, or None."""
    with store.begin() as session:
        row = session.execute(
            select(User.name, User.role).join(ApiKey)
            .where(ApiKey.digest == digest, ApiKey.revoked_at.is_(None), User.active)
        ).first()
    return Actor(row.name, row.role) if row else None


def check_password(store: Store, name: str, password: str) -> Actor | None:
    """The active user if `password` is theirs, else None (the same work either way)."""
    with store.begin() as session:
        user = session.scalars(select(User).where(User.name == name)).one_or_none()
        hashed = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(hashed or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return Actor(user.name, user.role) if hashed else None


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user has no password, so timing tells nothing."""
    return _hasher.hash(secrets.token_urlsafe(16))


def actor_user(session: Session, actor: Actor) -> User:
    """The store's row of whoever acts: a named user, or for an environment key
    (`env:<role>`) a user of that name and role made on first use."""
    user = session.scalars(select(User).where(User.name == actor.name)).one_or_none()
    if user is None and actor.name.startswith("env:"):
        user = User(name=actor.name, role=_check_role(actor.role), active=True)
        session.add(user)
        session.flush()
    if user is None:
        raise WorkflowError(f"unknown user {actor.name!r}", "user", 404)
    if not user.active:
        raise WorkflowError(f"user {actor.name!r} is disabled", "user", 403)
    return user
