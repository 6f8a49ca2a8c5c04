"""Batch scoring job and the BentoML service (later issues)."""
