"""Point-in-time payment-behaviour features per invoice and per customer (built in issue 3)."""
