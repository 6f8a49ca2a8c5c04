"""Point-in-time features per invoice, per open invoice (snapshot) and per customer.

A feature as of T uses only facts dated strictly before T; a window of w days covers the
facts dated T - w .. T - 1. Every feature is defined once in `features.catalog`.
The names below are loaded on first use (PEP 562), so the catalog alone loads no DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from features.catalog import FeatureSpec, catalog_rows, feature_catalog, model_inputs
    from features.pipeline import (
        build_customer_features,
        build_invoice_features,
        build_snapshot,
        invoice_feature_batches,
        invoice_settlements,
        output_columns,
        write_invoice_features,
    )

_CATALOG = ("FeatureSpec", "catalog_rows", "feature_catalog", "model_inputs")
_PIPELINE = ("build_customer_features", "build_invoice_features", "build_snapshot",
             "invoice_feature_batches", "invoice_settlements", "output_columns",
             "write_invoice_features")
__all__ = [
    "FeatureSpec",
    "build_customer_features",
    "build_invoice_features",
    "build_snapshot",
    "catalog_rows",
    "feature_catalog",
    "invoice_feature_batches",
    "invoice_settlements",
    "model_inputs",
    "output_columns",
    "write_invoice_features",
]


def __getattr__(name: str) -> Any:
    if name in _CATALOG:
        return getattr(importlib.import_module("features.catalog"), name)
    if name in _PIPELINE:
        return getattr(importlib.import_module("features.pipeline"), name)
    raise AttributeError(f"module 'features' has no attribute {name!r}")
