"""Drift and model-quality reports with Evidently (later issues)."""
