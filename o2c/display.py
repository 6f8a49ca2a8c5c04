"""Rich rendering of results for the terminal; no computing here."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # type hints only: `o2c --help` loads no pandas or DuckDB
    import pandas as pd

    from ledger.importer import ImportResult
    from ledger.issues import LedgerValidationError
    from ledger.summary import LedgerSummary

WIDTH_WHEN_PIPED = 140
"""Tables are this wide when output goes to a file or pipe (`make demo`, logs), not 80."""

console = Console(width=None if sys.stdout.isatty() else WIDTH_WHEN_PIPED)
err_console = Console(stderr=True)


def show_summary(summary: LedgerSummary) -> None:
    """Print a ledger summary: rows per table, dates, customers and the aging of what is open."""
    money = summary.reporting_currency
    console.print(f"[bold]Ledger[/] {summary.source}", highlight=False)
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("dates", f"{summary.first_date} to {summary.last_date}")
    facts.add_row("as of", str(summary.as_of))
    facts.add_row("customers", f"{summary.customers:,} ({summary.customers_with_invoices:,} "
                  "with invoices)")
    facts.add_row("currencies", ", ".join(summary.currencies))
    facts.add_row("open invoices", f"{summary.open_invoices:,}")
    facts.add_row("open balance", f"{summary.open_balance:,.2f} {money}")
    facts.add_row("overdue balance", f"{summary.overdue_balance:,.2f} {money}")
    console.print(facts)

    rows = Table(title="Rows per table", title_justify="left")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)

    aging = Table(title=f"Open balance by days past due ({money})", title_justify="left")
    aging.add_column("bucket")
    aging.add_column("amount", justify="right")
    aging.add_column("share", justify="right")
    total = summary.open_balance or 1.0
    for bucket, amount in summary.aging.items():
        aging.add_row(bucket, f"{amount:,.2f}", f"{amount / total:.1%}")
    console.print(aging)
    for table, columns in summary.ignored_columns.items():
        console.print(f"note: {table} has columns outside the contract, not used: "
                      f"{', '.join(columns)}", markup=False, highlight=False)


def show_ledger_errors(error: LedgerValidationError) -> None:
    """Print every problem of an invalid ledger to stderr, one per line, never truncated."""
    err_console.print(str(error), markup=False, highlight=False, soft_wrap=True)


METRIC_COLUMNS = ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile")
DAYS_COLUMNS = ("mae", "coverage", "width", "bias", "pinball")
"""A payment-date model's metrics (days; coverage of its P10-P90 interval)."""


def show_training(key: str, summary: dict) -> None:
    """A trained model's validation metrics beside its baselines', and the gate's decision."""
    table = Table(title=f"{summary['model_name']}: out-of-time validation", title_justify="left")
    table.add_column("model")
    columns = METRIC_COLUMNS if "auc" in summary else DAYS_COLUMNS
    for metric in columns:
        table.add_column(metric, justify="right")
    rows = {"model": summary, **summary["baselines"]}
    for name, row in rows.items():
        table.add_row(name, *(_metric(row.get(m)) for m in columns))
    console.print(table)
    console.print(f"{summary['n_train']:,} training and {summary['n_valid']:,} validation "
                  f"examples; MLflow run {summary['run_id']}", highlight=False)
    verdict = "promoted to champion" if summary["promoted"] else "not promoted (challenger)"
    console.print(f"{summary['model_name']} v{summary['model_version']} {verdict}: "
                  f"{summary['promotion_reason']}", markup=False, highlight=False)


def show_training_failure(name: str, error: str) -> None:
    """A model that could not be trained, and why (stderr)."""
    err_console.print(f"{name} not trained: {error}", markup=False, highlight=False,
                      soft_wrap=True)


def show_model_versions(name: str, versions: list[dict]) -> None:
    """A registered model's versions: aliases, validation metrics (a classifier's AUC and
    Brier score; a payment-date model's P50 MAE in days and P10-P90 coverage), beside the
    best baseline's, gate, ledger, dates."""
    days = any("mae" in v["validation_metrics"] for v in versions)
    scores = ((("P50 MAE days", "mae"), ("P10-P90 coverage", "coverage"),
               ("best rule MAE", "best_baseline_mae")) if days else
              (("auc", "auc"), ("brier", "brier"), ("best baseline auc", "best_baseline_auc")))
    table = Table(title=f"{name}: {len(versions)} versions", title_justify="left")
    for column in ("version", "aliases", *(label for label, _ in scores), "valid from",
                   "ledger", "created", "gate"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in dict(scores) else "left")
    for v in versions:
        metrics = {**v["validation_metrics"], **{k: v.get(k) for k in (
            "best_baseline_auc", "best_baseline_mae")}}
        table.add_row(v["version"], ", ".join(v["aliases"]),
                      *(_metric(metrics.get(key)) for _, key in scores),
                      v["valid_from"] or "", (v["ledger_customers"] or "")[:12],
                      v["created"] or "", v["promotion_reason"] or "")
    console.print(table)


def _metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def show_feature_catalog(rows: list[dict[str, str]]) -> None:
    """Print the feature catalog as a table (folded, never truncated)."""
    table = Table(title=f"{len(rows)} features", title_justify="left", show_lines=False)
    columns = {"name": "name", "kind": "kind", "window": "window", "type": "dtype",
               "input": "input", "monotone": "monotone", "at issue": "at_issue",
               "meaning": "meaning", "tables": "tables"}
    for column in columns:  # names whole, the rest folded
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for row in rows:
        table.add_row(*(row[key] for key in columns.values()))
    console.print(table)


def show_worklist(rows: pd.DataFrame) -> None:
    """The top of the worklist as a table."""
    table = Table(title=f"Collections worklist (top {len(rows)})", title_justify="left")
    for column in ("rank", "customer", "action", "at risk", "overdue", "in its currency",
                   "oldest dpd", "why"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("rank", "at risk", "overdue",
                                                       "oldest dpd") else "left")
    for row in rows.itertuples():
        why = "; ".join(list(row.reasons)[:3])
        if row.held:
            why = f"held: {row.held_reason}. {why}"
        table.add_row(str(row.rank), row.customer_id, row.action, f"{row.amount_at_risk:,.0f}",
                      f"{row.overdue_amount:,.0f}", _local_overdue(row),
                      f"{row.oldest_days_past_due:.0f}", why)
    console.print(table)


def show_limits(rows: pd.DataFrame, *, top: int = 15) -> None:
    """The review queue in its order (snapshots since issue 14 rank it), then the credit limits
    that changed most, as a table."""
    size = rows["change"].abs().fillna(rows["recommended_limit"])  # unknown current limit
    rank = rows["review_rank"] if "review_rank" in rows else size * float("nan")
    order = rows.assign(queue_order=rank, change_size=size).sort_values(
        ["queue_order", "change_size"], ascending=[True, False], na_position="last", kind="stable")
    changed = order.head(top)
    flagged = int(rows["review_flag"].sum())
    table = Table(title=f"Review queue, then the limits that changed most ({flagged:,} of "
                        f"{len(rows):,} customers flagged for review)", title_justify="left")
    for column in ("customer", "grade", "p(90+ dpd)", "current", "recommended", "change",
                   "utilization", "in its currency", "why"):
        table.add_column(column, overflow="fold",
                         justify="left" if column in ("customer", "grade", "why") else "right")
    for row in changed.itertuples():
        why = "; ".join(list(row.reasons)[:2])
        if row.review_flag:
            number = "" if math.isnan(row.queue_order) else f" #{row.queue_order:.0f}"
            why = f"REVIEW{number} ({'; '.join(row.review_reasons)}). {why}"
        table.add_row(row.customer_id, row.grade, f"{row.probability:.1%}",
                      _amount(row.current_limit), f"{row.recommended_limit:,.0f}",
                      _amount(row.change, "+"), _amount(row.utilization, ".0%"),
                      _local_limits(row), why)
    console.print(table)


def _local_overdue(row: object) -> str:
    """The overdue amount in the customer's currency (snapshots since issue 12)."""
    currency = getattr(row, "customer_currency", None)
    local = getattr(row, "overdue_amount_local", None)
    if not isinstance(currency, str) or local is None:
        return ""
    return f"{local:,.0f} {currency}"


def _local_limits(row: object) -> str:
    """Current -> recommended limit in the customer's currency (snapshots since issue 12)."""
    currency = getattr(row, "currency", None)
    if not isinstance(currency, str):
        return ""
    current = _amount(getattr(row, "current_limit_local", math.nan))
    text = f"{current} -> {getattr(row, 'recommended_limit_local', math.nan):,.0f} {currency}"
    decided = getattr(row, "effective_limit", None)
    if decided is not None and not math.isnan(decided):
        text += f"; decided {decided:,.0f} by {row.decided_by}"
    return text


def _amount(value: float, style: str = ",.0f") -> str:
    """A figure as text, or `unknown` when missing (an export without credit limits)."""
    if math.isnan(value):
        return "unknown"
    return f"{value:+,.0f}" if style == "+" else f"{value:{style}}"


def show_import(result: ImportResult) -> None:
    """Rows written per table and what the mapping assumed."""
    counts = ", ".join(f"{n:,} {name}" for name, n in result.rows.items())
    console.print(f"Wrote {result.out}: {counts}", highlight=False)
    console.print("Assumed (also in import.json):", highlight=False)
    for note in result.assumptions:
        console.print(f"  - {note}", markup=False, highlight=False)


def show_backtest(title: str, figures: dict) -> None:
    """A back-test's figures, one per line (nested ones as `capture.worklist.top_10`)."""
    from training.tracking import flatten_params

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    for key, value in flatten_params(figures).items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        table.add_row(key, shown)
    console.print(table)
