"""The documentation states the contract the code enforces."""

from pathlib import Path

from ledger.schema import markdown

ROOT = Path(__file__).resolve().parents[1]


def test_ledger_doc_lists_every_table_and_column_as_the_schema_does() -> None:
    assert markdown() in (ROOT / "docs" / "ledger.md").read_text()


def test_readme_has_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme
