"""Start-up time of the `o2c` CLI, measured as a user runs it (a script).

    .venv/bin/python benchmarks/bench_startup.py            # 7 runs of each command
    .venv/bin/python benchmarks/bench_startup.py --runs 15

Each command is run as a whole process (`.venv/bin/o2c …`), output discarded, after one
warm-up run (so the file cache holds the installed packages, as on a machine in use); the
median and the slowest run are printed. Also printed: which heavy libraries a plain
`import o2c.cli` loads (none should).

Goal (issue 11): `o2c --help` and `o2c features list` in under 0.5 s.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
O2C = ROOT / ".venv" / "bin" / "o2c"
COMMANDS = (["--help"], ["features", "list"], ["generate", "--help"], ["serve", "--help"])
HEAVY = ("duckdb", "pandas", "lightgbm", "sklearn", "mlflow", "bentoml", "evidently",
         "matplotlib", "pyarrow")
GOAL_SECONDS = 0.5


def time_command(args: list[str], runs: int) -> list[float]:
    """Wall-clock seconds of `runs` runs of `o2c args` (after one warm-up run)."""
    subprocess.run([str(O2C), *args], check=True, capture_output=True)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(O2C), *args], check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def heavy_imports() -> list[str]:
    """The heavy libraries that `import o2c.cli` loads."""
    probe = ("import sys, o2c.cli; "
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per command.")
    args = parser.parse_args()
    print(f"{platform.node()}: Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"{'command':<24} {'median s':>9} {'max s':>7}")
    for command in COMMANDS:
        seconds = time_command(command, args.runs)
        median = statistics.median(seconds)
        verdict = "" if median <= GOAL_SECONDS else f"  (goal {GOAL_SECONDS} s: not met)"
        print(f"o2c {' '.join(command):<20} {median:9.3f} {max(seconds):7.3f}{verdict}")
    loaded = heavy_imports()
    print("heavy libraries loaded by `import o2c.cli`: " + (", ".join(loaded) or "none"))


if __name__ == "__main__":
    main()
