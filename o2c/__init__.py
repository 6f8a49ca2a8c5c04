"""o2c-risk: the command-line shell over the ledger, features, training and serving stages."""
