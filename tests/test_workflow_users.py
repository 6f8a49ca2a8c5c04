"""The workflow store's schema and its users and keys, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from serving.workflow import users
from serving.workflow.db import current_revision, open_store, upgrade
from serving.workflow.errors import WorkflowError
from serving.workflow.schema import metadata


def test_upgrade_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    store = open_store(db_url)
    assert current_revision(store.engine) is not None
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "api_keys", "activities", "promises", "promise_invoices", "disputes",
            "owners"} <= tables
    assert set(metadata().tables) - {"alembic_version"} <= tables
    upgrade(store.engine)  # a second start changes nothing
    assert set(inspect(store.engine).get_table_names()) == tables
    with store.engine.connect() as connection:  # the migrations make what the models declare
        assert compare_metadata(MigrationContext.configure(connection), metadata()) == []


def test_keys_are_shown_once_stored_as_digests_and_rotated(db_url: str) -> None:
    store = open_store(db_url)
    key = users.add_user(store, "alice", "collector", password="correct horse")
    assert len(key) >= 40
    with store.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql("SELECT digest FROM api_keys")]
    assert stored == [users.key_digest(key)] and key not in stored
    assert users.actor_for_digest(store, users.key_digest(key)) == users.Actor("alice",
                                                                               "collector")
    fresh = users.new_key(store, "alice")
    assert users.actor_for_digest(store, users.key_digest(key)) is None
    assert users.actor_for_digest(store, users.key_digest(fresh)).name == "alice"
    kept = users.new_key(store, "alice", keep_old=True)
    assert users.actor_for_digest(store, users.key_digest(fresh)) is not None
    assert users.actor_for_digest(store, users.key_digest(kept)) is not None
    [info] = users.list_users(store)
    assert (info.name, info.role, info.active, info.keys, info.password) == \
        ("alice", "collector", True, 2, True)


def test_passwords_and_disabled_users(db_url: str) -> None:
    store = open_store(db_url)
    key = users.add_user(store, "bob", "credit_manager", password="s3cret-enough")
    users.add_user(store, "carol", "admin")
    assert users.check_password(store, "bob", "s3cret-enough") == users.Actor(
        "bob", "credit_manager")
    assert users.check_password(store, "bob", "wrong password") is None
    assert users.check_password(store, "carol", "anything at all") is None  # no password
    assert users.check_password(store, "nobody", "anything at all") is None
    users.disable_user(store, "bob")
    assert users.check_password(store, "bob", "s3cret-enough") is None
    assert users.actor_for_digest(store, users.key_digest(key)) is None


@pytest.mark.parametrize(("name", "role", "password", "field"), [
    ("alice", "boss", None, "role"), ("has space", "collector", None, "name"),
    ("", "collector", None, "name"), ("env:admin", "admin", None, "name"),
    ("dave", "collector", "short", "password"),
])
def test_bad_users_are_refused_naming_the_field(tmp_path, name, role, password, field) -> None:  # noqa: ANN001
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(WorkflowError) as refused:
        users.add_user(store, name, role, password=password)
    assert refused.value.field == field and refused.value.status == 400
    assert users.list_users(store) == []


def test_a_name_is_taken_once_and_unknown_users_are_404(db_url: str) -> None:
    store = open_store(db_url)
    users.add_user(store, "erin", "collector")
    with pytest.raises(WorkflowError) as taken:
        users.add_user(store, "erin", "admin")
    assert taken.value.status == 409
    with pytest.raises(WorkflowError) as unknown:
        users.new_key(store, "frank")
    assert unknown.value.status == 404 and "frank" in unknown.value.message
