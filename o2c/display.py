"""Rich rendering of results for the terminal; no computing here."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ledger.issues import LedgerValidationError
from ledger.summary import LedgerSummary

console = Console()
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


def show_training(summary: dict, comparison_rows: list[dict]) -> None:
    """Print the model's validation metrics beside the baselines, and the registry decision."""
    table = Table(title="Out-of-time validation (invoices at issue)", title_justify="left")
    table.add_column("model")
    for metric in ("auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile"):
        table.add_column(metric, justify="right")
    for row in comparison_rows:
        table.add_row(row["model"], *(f"{row[m]:.4f}" for m in
                                      ("auc", "pr_auc", "brier", "log_loss", "ece",
                                       "lift_top_decile")))
    console.print(table)
    console.print(f"{summary['n_train']:,} training examples, {summary['n_valid']:,} validation "
                  f"invoices; MLflow run {summary['run_id']}", highlight=False)
    verdict = "promoted to champion" if summary["promoted"] else "kept as challenger"
    console.print(f"{summary['model_name']} v{summary['model_version']} {verdict}: "
                  f"{summary['promotion_reason']}", highlight=False)


def show_feature_catalog(rows: list[dict[str, str]]) -> None:
    """Print the feature catalog as a table (folded, never truncated)."""
    table = Table(title=f"{len(rows)} features", title_justify="left", show_lines=False)
    for column in ("name", "kind", "window", "meaning", "tables"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["window"], row["meaning"], row["tables"])
    console.print(table)
