"""Runs every bench/bench_*.py in turn with the same extra arguments (e.g. `--quick`).

    .venv/bin/python bench/run_all.py [--quick]

Exit 1 when any benchmark failed or missed its target.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    failed = []
    for script in sorted(BENCH.glob("bench_*.py")):
        print(f"=== {script.name} {' '.join(argv)}", flush=True)
        started = time.monotonic()
        # the scripts reuse the test suite's real-server helpers (`tests.servers`)
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH.parent), os.environ.get("PYTHONPATH")]))
        }
        rc = subprocess.run([sys.executable, str(script), *argv], cwd=BENCH.parent, env=env).returncode
        print(f"=== {script.name}: exit {rc} after {time.monotonic() - started:.0f} s\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print("failed or missed targets:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
