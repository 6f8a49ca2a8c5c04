"""Project settings: defaults, overridden by a TOML file, overridden by `O2C_` variables.

The file is `o2c.toml` in the working directory, or the path in `O2C_CONFIG`. Nested fields
use `__` in variable names, e.g. `O2C_TRAINING__GRACE_DAYS=5`. Stages never read settings
themselves: the CLI (and the service) read them and pass typed objects down.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from models.limits import LimitsConfig
from models.worklist import WorklistConfig
from monitoring.config import MonitoringConfig
from serving.config import ApiConfig
from serving.webapp.config import WebappConfig
from serving.workflow.alert_rules import AlertsConfig
from serving.workflow.config import WorkflowConfig
from training.config import TrainingConfig

if TYPE_CHECKING:
    from training.registry import Registry

DEFAULT_CONFIG_FILE = "o2c.toml"


class Settings(BaseSettings):
    """Everything configurable, with its default."""

    model_config = SettingsConfigDict(
        env_prefix="O2C_", env_nested_delimiter="__", extra="forbid",
        use_attribute_docstrings=True,
    )

    workdir: Path = Path("work")
    """Folder for the MLflow store, its artifacts and the portfolio snapshots."""
    mlflow_tracking_uri: str | None = None
    """MLflow tracking URI; default `sqlite:///<workdir>/mlflow.db`."""
    experiment: str = "o2c-risk"
    """MLflow experiment that holds training runs."""
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    """How the models are trained."""
    worklist: WorklistConfig = Field(default_factory=WorklistConfig)
    """How the collections worklist is ranked and which rules hold customers back."""
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    """How credit limits are recommended."""
    api: ApiConfig = Field(default_factory=ApiConfig)
    """How the API serves (`o2c serve`): batch limit, collectors."""
    api_keys: str | None = Field(None, repr=False)
    """API keys of `o2c serve`: a JSON object of key -> role (collector, credit_manager,
    admin), as `O2C_API_KEYS`; never printed."""
    api_keys_file: Path | None = None
    """A file holding that JSON object instead (`O2C_API_KEYS_FILE`)."""
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    """Thresholds of the drift and quality checks of `o2c monitor`."""
    workflow: WorkflowConfig = Field(default_factory=WorkflowConfig)
    """The workflow store (users, actions, decisions) and how customers go to collectors."""
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    """Alert thresholds (grade drop, utilization, broken promise, days past due, monitoring)
    and the optional webhook."""
    ledger: Path | None = None
    """The ledger the snapshots are scored from (`O2C_LEDGER`, as the CLI's `--ledger`): the
    API's customer view reads names, invoices, payments, disputes and promises from it."""
    database_url: str | None = Field(None, repr=False)
    """SQLAlchemy URL of the workflow store, as `O2C_DATABASE_URL`; wins over `[workflow]
    database_url`; default `sqlite:///<workdir>/workflow.db`."""
    webapp: WebappConfig = Field(default_factory=WebappConfig)
    """The web app under `/app/`: sessions, sign-in limits, page size."""
    webapp_secret_key: str | None = Field(None, repr=False, min_length=32)
    """Key that signs the web app's session cookies, as `O2C_WEBAPP_SECRET_KEY`; wins over
    `[webapp] secret_key`; default a key generated once into `<workdir>/webapp-secret`."""

    @property
    def snapshots_dir(self) -> Path:
        """Where `o2c score` writes portfolio snapshots, one folder per as-of date."""
        return self.workdir / "snapshots"

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI in force."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.workdir / 'mlflow.db').resolve()}"

    @property
    def workflow_url(self) -> str:
        """The workflow store's database URL in force."""
        from serving.workflow.db import default_url

        return self.database_url or self.workflow.database_url or default_url(self.workdir)

    @property
    def artifact_location(self) -> str:
        """Where new experiments keep their artifacts (beside the default SQLite store)."""
        return (self.workdir / "mlartifacts").resolve().as_uri()

    def registry(self) -> Registry:
        """The MLflow runs and model registry these settings point at."""
        from training.registry import Registry

        return Registry(self.tracking_uri, self.experiment, self.artifact_location)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then `O2C_` variables, then the TOML file."""
        return (init_settings, env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


class SettingsError(ValueError):
    """Settings that cannot be loaded; the message names the file, or each wrong field."""


def config_file() -> Path:
    """The TOML file settings are read from (it need not exist unless O2C_CONFIG names it)."""
    return Path(os.environ.get("O2C_CONFIG", DEFAULT_CONFIG_FILE))


def load_settings() -> Settings:
    """Settings as the environment and config file say now; `SettingsError` says what is wrong.

    A missing O2C_CONFIG file, a file that is not valid TOML and a field of the wrong type or
    name are errors, each naming the file or the field.
    """
    path = config_file()
    if "O2C_CONFIG" in os.environ and not path.is_file():
        raise SettingsError(f"O2C_CONFIG names {path}, which is not a file")
    try:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']} "
            f"(got {error['input']!r})" for error in exc.errors())
        raise SettingsError(f"invalid settings in {path} or O2C_ variables: {fields}") from None
