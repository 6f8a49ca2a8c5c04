"""`o2c models`: the registered versions of each model, and promotion or rollback by hand.

Every promotion and rollback is recorded on the versions (who, when, why) and in the model's
champion history, which `rollback` steps back through.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from o2c.common import fail, load_settings_or_fail
from o2c.display import console, show_model_versions

if TYPE_CHECKING:
    from training.registry import Registry

models_app = typer.Typer(help="Registered models: list versions, promote one, roll back.",
                         no_args_is_help=True)

ModelOption = Annotated[str, typer.Option(
    "--model", help="Registered model name: late-payment-risk, collections-risk, "
                    "serious-delinquency or payment-date.")]


def _registry() -> Registry:

    settings = load_settings_or_fail()
    return settings.registry()


def _model_names(model: str | None) -> list[str]:
    from training.tasks import TASKS, task_named

    if model is None:
        return [task.name for task in TASKS]
    try:
        return [task_named(model).name]
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None


def describe_versions(registry: Registry, name: str) -> list[dict]:
    """Every version of `name`, oldest first: aliases, validation metrics beside the best
    baseline's AUC (a payment-date model: P50 MAE in days and P10-P90 coverage beside the
    best rule's MAE), windows, ledger fingerprint, gate decision, promotions, creation time."""
    from serving.champions import iso_time

    rows = []
    for version in registry.list_versions(name):
        metrics = registry.get_run(version.run_id).data.metrics if version.run_id else {}
        baseline_aucs = [v for k, v in metrics.items()
                         if k.startswith("baseline_") and k.endswith("_auc")
                         and not k.endswith("pr_auc")]
        baseline_maes = [v for k, v in metrics.items()
                         if k.startswith("baseline_") and k.endswith("_mae")]
        tags = version.tags
        rows.append({
            "version": str(version.version), "aliases": sorted(version.aliases),
            "run_id": version.run_id, "created": iso_time(version.creation_timestamp),
            "validation_metrics": {k: metrics[k] for k in ("auc", "brier", "ece", "n", "mae",
                                                           "coverage") if k in metrics},
            "best_baseline_auc": max(baseline_aucs, default=None),
            "best_baseline_mae": min(baseline_maes, default=None),
            "valid_from": tags.get("valid_from"), "trained_before": tags.get("trained_before"),
            "ledger_customers": tags.get("ledger_customers_sha256"),
            "gate_passed": tags.get("gate_passed"),
            "promotion_reason": tags.get("promotion_reason"),
            "history": {k: v for k, v in sorted(tags.items())
                        if k.split("_")[0] in ("promoted", "rolled", "restored")},
        })
    return rows


@models_app.command("list")
def list_(
    model: Annotated[str | None, typer.Option(
        "--model", help="Only this registered model (default: every model).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="End with one line of JSON: model name -> its versions.")] = False,
) -> None:
    """List each model's versions: aliases, validation metrics, ledger, gate decision."""
    registry = _registry()
    listed: dict[str, list[dict]] = {}
    for name in _model_names(model):
        try:
            listed[name] = describe_versions(registry, name)
        except LookupError as exc:
            if model is not None:
                fail(str(exc))
            listed[name] = []
    for name, versions in listed.items():
        show_model_versions(name, versions)
    if json_output:
        print(json.dumps(listed, sort_keys=True))


@models_app.command()
def promote(
    model: ModelOption,
    version: Annotated[str, typer.Option("--version", help="The version to make champion.")],
    reason: Annotated[str, typer.Option(
        help="Why, recorded on the version.")] = "promoted by hand (o2c models promote)",
) -> None:
    """Make a version the champion, whatever the gate said (recorded: who, when, why)."""
    name = _model_names(model)[0]
    try:
        promoted = _registry().promote(name, version, reason)
    except LookupError as exc:
        fail(str(exc))
    console.print(f"{name} v{promoted.version} is champion: {reason}", markup=False,
                  highlight=False)


@models_app.command()
def rollback(
    model: ModelOption,
    reason: Annotated[str, typer.Option(
        help="Why, recorded on both versions.")] = "rolled back by hand (o2c models rollback)",
) -> None:
    """Make the previous champion champion again (the current one is recorded as rolled back)."""
    name = _model_names(model)[0]
    registry = _registry()
    try:
        current = registry.champion_version(name).version
        restored = registry.rollback(name, reason)
    except LookupError as exc:
        fail(str(exc))
    console.print(f"{name}: v{restored.version} is champion again (v{current} rolled back)",
                  markup=False, highlight=False)
