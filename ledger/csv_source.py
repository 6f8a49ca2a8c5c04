"""Read one ledger CSV file into a DuckDB table of text columns, or say plainly why not.

A ledger CSV file is UTF-8 text (a byte-order mark is allowed) with a header row naming the
columns, values separated by commas and quoted with `"` when they hold a comma. The file is
read with exactly these settings, never guessed, so a file that breaks them is named (with
the line, where there is one) instead of being misread. Every value stays text here: the
loader casts it to its contract type and reports the values that do not parse.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import duckdb

DELIMITER = ","
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
_HEAD_BYTES = 1 << 16
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_KNOWN_PROBLEMS = (
    r"Expected Number of Columns: \d+ Found: \d+",
    r"Value with unterminated quote found",
    r"Invalid unicode \(byte sequence mismatch\) detected",
    r"Maximum line size of \d+ bytes exceeded",
)
"""DuckDB's words for what is wrong with a CSV line, kept when its error is shortened."""


class UnreadableFile(ValueError):
    """A file that is not a ledger CSV file; the message says what is wrong with it."""


def load_csv(con: duckdb.DuckDBPyConnection, file: Path, table: str) -> None:
    """Create table `table` holding every row of `file`, all columns VARCHAR.

    Raise `UnreadableFile` naming the file (and line) when it is empty, binary, not UTF-8,
    not comma-separated, or has a row of the wrong length or an unterminated quote.
    """
    columns = _header(file)
    spec = ", ".join(f"'{_sql(c)}': 'VARCHAR'" for c in columns)
    try:
        con.execute(
            f'CREATE TABLE "{table}" AS SELECT * FROM read_csv(\'{_sql(str(file))}\', '
            f"auto_detect = false, header = true, delim = '{DELIMITER}', quote = '\"', "
            f"escape = '\"', columns = {{{spec}}})"
        )
    except duckdb.Error as exc:
        raise UnreadableFile(f"{file.name} cannot be read as CSV: {_reason(exc)}") from None


def _header(file: Path) -> list[str]:
    """The column names of the header row, after checking the file is comma-separated text."""
    with file.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    if not head.strip():
        raise UnreadableFile(f"{file.name} is empty (expected a header row naming the columns, "
                             "then one row per record)")
    if head.startswith(_UTF16_BOMS) or _looks_utf16(head):
        raise UnreadableFile(f"{file.name} is UTF-16 text (expected UTF-8): save it as "
                             "'CSV UTF-8'")
    if b"\x00" in head:
        raise UnreadableFile(f"{file.name} is a binary file, not CSV text")
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{file.name} is not UTF-8 text (byte 0x{head[exc.start]:02x} at offset "
            f"{exc.start}): save it as UTF-8") from None
    first_line = text.splitlines()[0] if text.strip() else ""
    names = next(csv.reader([first_line], delimiter=DELIMITER), [])
    if len(names) == 1:
        for other, word in OTHER_DELIMITERS.items():
            if other in first_line:
                raise UnreadableFile(
                    f"{file.name} separates values with {word}, expected commas (and '.' as "
                    f"the decimal point); its header row is {first_line!r}")
    blank = [str(i) for i, name in enumerate(names, start=1) if not name.strip()]
    if blank:
        raise UnreadableFile(f"{file.name}: the header row has no name for column "
                             f"{', '.join(blank)} (header {first_line!r})")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UnreadableFile(f"{file.name}: the header row names {', '.join(repeated)} "
                             "more than once")
    return names


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of ASCII text is zero."""
    sample = head[: len(head) - len(head) % 2][:1024]
    if len(sample) < 4:
        return False
    return sample[1::2].count(0) > 0.9 * (len(sample) // 2) or \
        sample[0::2].count(0) > 0.9 * (len(sample) // 2)


def _reason(exc: duckdb.Error) -> str:
    """DuckDB's CSV error in one line: the line number, what was wrong, the line itself."""
    message = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", message)
    original = re.search(r"Original Line: (.*)", message)
    known = re.search("|".join(_KNOWN_PROBLEMS), message)
    detail = known.group(0) if known else message.splitlines()[0]
    text = f"line {line.group(1)}: {detail}" if line else detail
    if original:
        text += f" (the line reads {original.group(1)[:120]!r})"
    return text


def _sql(text: str) -> str:
    """`text` as the inside of a SQL string literal."""
    return text.replace("'", "''")
