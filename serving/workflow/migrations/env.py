"""Alembic's environment: the store's metadata, and the connection `db.upgrade` hands in
(`config.attributes["connection"]`), or else an engine from `sqlalchemy.url`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from serving.workflow.schema import metadata

target_metadata = metadata()
config = context.config


def run_migrations_offline() -> None:
    """Emit the SQL for a URL without connecting (`alembic upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection handed in, or on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.begin() as connection:
        _run(connection)


def _run(connection) -> None:  # noqa: ANN001 (a SQLAlchemy Connection)
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
