"""The MLflow model registry through one explicit client: the experiment, model versions, the
`champion` alias, promotion and rollback (each recorded: who, when, why), and reading a
version's model data (never its code).

Nothing here sets MLflow's process-wide tracking URI for registry work; a run (MLflow's
fluent logging API needs one) points MLflow at this store only while it is open.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode

from models.pyfunc import DATA_FOLDER
from models.risk_model import META_FILE
from models.store import StoredModel, load_model, model_class, read_meta

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
"""Registered-model tag: the versions that were champion, oldest first (comma-separated);
`rollback` goes back one step of it."""
HISTORY_KEEP = 500
"""At most this many past champions are remembered (MLflow tags hold a few thousand chars)."""

STORED_DATA = (f"data/{DATA_FOLDER}", f"artifacts/{DATA_FOLDER}")
"""Where a logged model keeps its data folder: `data/` (logged with `loader_module`), or
`artifacts/` in versions logged earlier as models from code (only their data is read)."""


class NoChampion(LookupError):
    """The model is not registered, or no version of it is aliased `champion`."""


def _missing(exc: MlflowException) -> bool:
    return exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at `uri` for a moment, then back to what it was."""
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


@dataclass(frozen=True)
class Registry:
    """Where MLflow keeps runs and models, and the registry operations on them."""

    tracking_uri: str
    experiment: str = "o2c-risk"
    artifact_location: str | None = None
    """Artifact root for a new experiment (beside a SQLite store); None = MLflow's default."""

    @cached_property
    def client(self) -> MlflowClient:
        """The one client of this store (tracking and registry)."""
        return MlflowClient(tracking_uri=self.tracking_uri)

    # ------------------------------------------------------------------ runs

    def experiment_id(self) -> str:
        """The experiment's id, creating it (with `artifact_location`) the first time."""
        existing = self.client.get_experiment_by_name(self.experiment)
        if existing is not None:
            return existing.experiment_id
        return self.client.create_experiment(self.experiment,
                                             artifact_location=self.artifact_location)

    @contextmanager
    def start_run(self, run_name: str) -> Iterator[mlflow.ActiveRun]:
        """An MLflow run in this store and experiment; `mlflow.log_*` go to it while open."""
        experiment_id = self.experiment_id()
        with _tracking_uri(self.tracking_uri), \
                mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
            yield run

    def get_run(self, run_id: str) -> Run:
        """A run of this store."""
        return self.client.get_run(run_id)

    # ------------------------------------------------------------------ versions

    def register(
        self, name: str, model_uri: str, *, run_id: str, model_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """A new version of `name` from a logged model, aliased `challenger`."""
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
        if model_id is not None:  # `models:/<id>` would be resolved in MLflow's global store
            model_uri = self.client.get_logged_model(model_id).artifact_location
        version = self.client.create_model_version(name, source=model_uri, run_id=run_id,
                                                   tags=tags, model_id=model_id)
        self.client.set_registered_model_alias(name, CHALLENGER, str(version.version))
        return self.client.get_model_version(name, str(version.version))

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first; LookupError when it is not registered."""
        self._registered(name)
        found = self.client.search_model_versions(f"name = '{_quoted(name)}'")
        numbers = sorted(int(v.version) for v in found)
        # search results lack aliases in some stores: read each version itself
        return [self.client.get_model_version(name, str(n)) for n in numbers]

    def version(self, name: str, version: str) -> ModelVersion:
        """One version; LookupError naming it when it does not exist."""
        try:
            return self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            if _missing(exc):
                raise LookupError(f"model {name!r} has no version {version} in "
                                  f"{self.tracking_uri}") from None
            raise

    def champion(self, name: str) -> ModelVersion | None:
        """The version aliased `champion`; None when there is none (or no such model).

        Other MLflow errors (a store that cannot be read, say) are raised, not read as "none".
        """
        try:
            model = self.client.get_registered_model(name)
        except MlflowException as exc:
            if _missing(exc):
                return None
            raise
        version = model.aliases.get(CHAMPION)
        return None if version is None else self.client.get_model_version(name, version)

    def champion_version(self, name: str) -> ModelVersion:
        """The champion; NoChampion (a LookupError) saying so when there is none."""
        champion = self.champion(name)
        if champion is None:
            raise NoChampion(f"no champion of model {name!r} in {self.tracking_uri}; run "
                             "`o2c train` first")
        return champion

    # ------------------------------------------------------------------ promotion

    def history(self, name: str) -> list[str]:
        """The versions that were champion, oldest first (the last is the champion)."""
        text = self._registered(name).tags.get(HISTORY_TAG, "")
        return [v for v in text.split(",") if v]

    def promote(self, name: str, version: str, reason: str) -> ModelVersion:
        """Make `version` the champion, recording who, when and why on it and in the history."""
        number = str(self.version(name, version).version)
        self.client.set_registered_model_alias(name, CHAMPION, number)
        self._record(name, number, "promoted", reason)
        history = [v for v in self.history(name) if v != number] + [number]
        self.client.set_registered_model_tag(name, HISTORY_TAG,
                                             ",".join(history[-HISTORY_KEEP:]))
        return self.version(name, number)

    def rollback(self, name: str, reason: str = "rollback") -> ModelVersion:
        """Make the previous champion champion again; the current one leaves the history.

        LookupError when there is no champion or no previous one to go back to.
        """
        current = str(self.champion_version(name).version)
        history = [v for v in self.history(name) if v != current]
        if not history:
            raise LookupError(f"model {name!r} has no previous champion to roll back to "
                              f"(v{current} is the only one recorded)")
        previous = history[-1]
        self.client.set_registered_model_alias(name, CHAMPION, previous)
        self._record(name, current, "rolled_back", reason)
        self._record(name, previous, "restored", f"rollback from v{current}: {reason}")
        self.client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
        return self.version(name, previous)

    def _record(self, name: str, version: str, action: str, reason: str) -> None:
        for key, value in {"at": _now(), "by": _user(), "reason": reason}.items():
            self.client.set_model_version_tag(name, version, f"{action}_{key}", value)

    def _registered(self, name: str):  # noqa: ANN202 (mlflow's RegisteredModel)
        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if _missing(exc):
                raise LookupError(f"no model {name!r} in {self.tracking_uri}") from None
            raise

    # ------------------------------------------------------------------ reading models

    def load_model(self, name: str, version: str) -> StoredModel:
        """Read a version's model data into a model of the installed package (of the kind its
        `model.json` names: `models.store`).

        Only the data folder is read, copied to a temporary folder first: nothing in the
        artifact store runs and nothing is written there, so a read-only store works. Raises
        LookupError naming the version and the location when its data cannot be read.
        """
        root = self.client.get_model_version_download_uri(name, version).rstrip("/")
        where = f"version {version} of model {name!r} ({root})"
        uri = self.tracking_uri
        try:
            for folder in STORED_DATA:
                present = {Path(f.path).name for f in
                           mlflow.artifacts.list_artifacts(f"{root}/{folder}", tracking_uri=uri)}
                if present:
                    break
            else:
                raise LookupError(f"{where} holds no model data ({' or '.join(STORED_DATA)})")
            if META_FILE not in present:
                raise LookupError(f"{where} lacks {META_FILE} in {folder}")
            with tempfile.TemporaryDirectory() as local, _no_progress_bar():
                def fetch(file: str) -> None:
                    mlflow.artifacts.download_artifacts(f"{root}/{folder}/{file}",
                                                        dst_path=local, tracking_uri=uri)

                fetch(META_FILE)
                kind = model_class(read_meta(local))
                missing = [file for file in kind.FILES if file not in present]
                if missing:
                    raise LookupError(f"{where} lacks {', '.join(missing)} in {folder}")
                for file in kind.FILES:
                    if file != META_FILE:
                        fetch(file)
                return load_model(local)
        except (MlflowException, OSError, ValueError, KeyError, TypeError,
                lgb.basic.LightGBMError) as exc:
            raise LookupError(f"{where}: cannot read its model data: {exc}") from exc


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow's download progress bar off for a moment (it would print at every model load)."""
    variable = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    before = os.environ.get(variable)
    os.environ[variable] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before
