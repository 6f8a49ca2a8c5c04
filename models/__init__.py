"""Risk scoring, worklist ranking, credit-limit policy and reason codes (later issues)."""
