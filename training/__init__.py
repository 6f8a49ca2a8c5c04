"""Labels, out-of-time splits, training, evaluation, MLflow logging and promotion (later issues)."""
