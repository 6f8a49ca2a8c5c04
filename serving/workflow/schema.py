"""Every table of the workflow store on one metadata: the modules that declare them."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from serving.workflow.base import Base

TABLE_MODULES = ("serving.workflow.tables", "serving.workflow.audit", "serving.workflow.credit",
                 "serving.workflow.alerts")
"""Modules declaring tables (revision 0001: tables; 0002: audit, credit, alerts)."""


def metadata() -> MetaData:
    """The store's metadata with every table declared (what the migrations must make)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata
