"""Point-in-time features per invoice, per open invoice (snapshot) and per customer.

A feature as of T uses only facts dated strictly before T; a window of w days covers the
facts dated T - w .. T - 1. Every feature is defined once in `features.catalog`.
"""

from features.catalog import FeatureSpec, catalog_rows, feature_catalog
from features.pipeline import (
    build_customer_features,
    build_invoice_features,
    build_snapshot,
    invoice_feature_batches,
    invoice_settlements,
    output_columns,
    write_invoice_features,
)

__all__ = [
    "FeatureSpec",
    "build_customer_features",
    "build_invoice_features",
    "build_snapshot",
    "catalog_rows",
    "feature_catalog",
    "invoice_feature_batches",
    "invoice_settlements",
    "output_columns",
    "write_invoice_features",
]
