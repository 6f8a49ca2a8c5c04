"""Project settings: defaults, overridden by a TOML file, overridden by `O2C_` variables.

The file is `o2c.toml` in the working directory, or the path in `O2C_CONFIG`. Nested fields
use `__` in variable names, e.g. `O2C_TRAINING__GRACE_DAYS=5`. Stages never read settings
themselves: the CLI (and the service) read them and pass typed objects down.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
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
from training.config import TrainingConfig

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
    def artifact_location(self) -> str:
        """Where new experiments keep their artifacts (beside the default SQLite store)."""
        return (self.workdir / "mlartifacts").resolve().as_uri()

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
        toml_file = Path(os.environ.get("O2C_CONFIG", DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def load_settings() -> Settings:
    """Settings as the environment and config file say now; a missing O2C_CONFIG file errors."""
    explicit = os.environ.get("O2C_CONFIG")
    if explicit and not Path(explicit).is_file():
        raise FileNotFoundError(f"O2C_CONFIG names {explicit}, which is not a file")
    return Settings()
