"""Writing a generated ledger as Parquet files that replace the old directory atomically."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ledger.atomic import atomic_directory
from ledger.synthetic.config import TABLE_NAMES


def write_ledger(tables: dict[str, pa.Table], out_dir: Path) -> None:
    """Write `<name>.parquet` per table into `out_dir`, replacing it as a whole, atomically.

    Files are written into a temporary sibling directory which then takes `out_dir`'s place,
    so a failure never leaves a half-written ledger nor destroys an existing one. An existing
    `out_dir` may only hold `.parquet` files of ledger tables (FileExistsError otherwise), so a
    wrong path cannot wipe unrelated files.
    """
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    with atomic_directory(out_dir) as staging:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a path that is not a directory of ledger Parquet files."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if not (p.is_file() and p.suffix == ".parquet"
                             and p.stem in set(TABLE_NAMES)))
    if foreign:
        raise FileExistsError(
            f"{out_dir} holds files that are not ledger tables ({', '.join(foreign[:5])}); "
            "refusing to replace it")
