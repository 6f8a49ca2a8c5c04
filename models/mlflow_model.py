"""Entry file for MLflow's models-from-code logging (`python_model=` this file's path).

MLflow imports this file when it loads the model; nothing else should import it.
"""

import mlflow.models

from models.pyfunc import RiskModelPyfunc

mlflow.models.set_model(RiskModelPyfunc())
