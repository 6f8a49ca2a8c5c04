"""Alembic migrations of the workflow store (run by `serving.workflow.db.upgrade`)."""
