"""Which ledger a model was trained on, told by its customers: a hash of the sorted customer
ids, and a small sample of id hashes that tells how many of one ledger's customers another
ledger holds (a later export of the same books holds nearly all; another company's, none)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ledger.loader import Ledger

SKETCH_SIZE = 64
"""Id hashes kept in the sample (the smallest ones, so two ledgers sample the same ids)."""
CUSTOMERS_SHA256 = "ledger_customers_sha256"
CUSTOMERS_SKETCH = "ledger_customers_sketch"


def _id_hash(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()[:12]


def ledger_customers(ledger: Ledger) -> list[str]:
    """The ledger's customer ids, sorted."""
    return sorted(str(row[0]) for row in ledger.rows("SELECT customer_id FROM customers"))


def customers_fingerprint(customer_ids: Iterable[str]) -> dict[str, str]:
    """Tags naming a set of customers: its SHA-256 and the sample of its smallest id hashes."""
    ids = sorted(set(customer_ids))
    sketch = sorted(_id_hash(i) for i in ids)[:SKETCH_SIZE]
    return {CUSTOMERS_SHA256: hashlib.sha256("\n".join(ids).encode()).hexdigest(),
            CUSTOMERS_SKETCH: " ".join(sketch)}


def customers_held(tags: dict[str, str], customer_ids: Iterable[str]) -> float | None:
    """The share of the fingerprinted customers that `customer_ids` holds (estimated from the
    sample; exact when the hashes agree); None when `tags` hold no fingerprint."""
    sample = tags.get(CUSTOMERS_SKETCH, "").split()
    if not sample:
        return None
    ids = set(customer_ids)
    if tags.get(CUSTOMERS_SHA256) == customers_fingerprint(ids)[CUSTOMERS_SHA256]:
        return 1.0
    hashes = {_id_hash(i) for i in ids}
    return sum(h in hashes for h in sample) / len(sample)
