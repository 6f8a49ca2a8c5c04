"""The workflow store: what people do (users and keys, contacts, promises, disputes, notes,
portfolio ownership), in a SQL database through SQLAlchemy 2 with Alembic migrations.

SQLite (`<workdir>/workflow.db`) by default, PostgreSQL by URL (`O2C_DATABASE_URL`). Modules:
`config` (settings), `db` (engine, sessions, migrations), `base` (the declarative base),
`tables` (users, keys, actions, ownership), `users` (accounts and keys), `actions` (the
collectors' actions), `overlay` (the worklist as the store changes it), `ownership`
(collectors' portfolios), `facts` (actions as dated ledger facts).
"""
