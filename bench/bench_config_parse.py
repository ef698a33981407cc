"""Config parse time and peak memory: the strict loader against the loader it replaced, same run.

Both config files (the daemon's and the deploy policy) go through `configtools.load_yaml`.
Its baseline is the previous implementation, `yaml.safe_load` of the file's text (PyYAML's
pure-Python parser), measured here in the same run on the same files; plain
`yaml.load(..., CSafeLoader)` (libyaml without any of the checks) is shown for reference.
Each measurement runs in a fresh interpreter, so its peak RSS is its own; runs of the three
loaders are interleaved to share the machine's load. The files are generated config-like
YAML (checks with nested mappings, lists, durations, numbers, dates, quoted and plain
strings) of about 1 MB and 10 MB.

Targets, as ratios to the same run's figures (absolute times swing with the machine's load):
the strict loader at least 4x faster than the baseline and no slower than unchecked libyaml,
on both sizes. Exits 1 if one is missed. (On an idle 2-core machine of this project's kind
the strict loader reads the 10 MB file in about 3 s, the baseline in about 70 s.)

Run: .venv/bin/python bench/bench_config_parse.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 4.0

READ = "import yaml\nwith open(path, encoding='utf-8') as fh:\n    text = fh.read()\n"
LOADERS = {
    "baseline": READ + "yaml.safe_load(text)",
    "strict": "from watchdog.common.configtools import load_yaml\nload_yaml(path)",
    "libyaml-unchecked": READ + "yaml.load(text, Loader=yaml.CSafeLoader)",
}
CHILD = """\
import json, resource, sys, time
path = sys.argv[1]
started = time.perf_counter()
{load}
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def config_text(size: int) -> str:
    """Config-like YAML of about `size` bytes."""
    lines = ["listen: 127.0.0.1:9841", "state_dir: /var/lib/shop-watchdog", "checks:"]
    total, i = 0, 0
    while total < size:
        block = (
            f"  - name: web-{i}\n"
            f"    type: http\n"
            f'    url: "https://shop-{i % 97}.example.com/healthz?probe={i}"\n'
            f"    interval: {10 + i % 50}s\n"
            f"    timeout: 5s\n"
            f"    retries: {i % 5}\n"
            f"    threshold: {0.5 + (i % 10) / 10}\n"
            f"    remediate: {{restart: nginx-{i % 7}.service, max_restarts: 3, window: 1h}}\n"
            f"    tags: [shop, web, zone-{i % 3}, 'team {i % 11}']\n"
            f"    since: 2026-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
            f"    enabled: {'true' if i % 2 else 'false'}\n"
        )
        lines.append(block.rstrip("\n"))
        total += len(block)
        i += 1
    return "\n".join(lines) + "\n"


def measure(loader: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(load=LOADERS[loader]), str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per loader and size (the 10 MB baseline: 1)")
    parser.add_argument("--quick", action="store_true", help="one run each, for a smoke run")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-config-parse-") as tmp:
        for label, size in (("1 MB", 1_000_000), ("10 MB", 10_000_000)):
            path = Path(tmp) / f"config-{label.replace(' ', '')}.yaml"
            path.write_text(config_text(size))
            results: dict[str, list[dict[str, float]]] = {name: [] for name in LOADERS}
            for run in range(runs):
                for name in LOADERS:
                    if name == "baseline" and size > 5_000_000 and run > 0:
                        continue  # about a minute each: once is enough for a ratio
                    results[name].append(measure(name, path))
            seconds = {name: statistics.median(r["seconds"] for r in rs) for name, rs in results.items()}
            rss = {name: max(r["rss_mib"] for r in rs) for name, rs in results.items()}
            print(f"{label} ({path.stat().st_size / 1e6:.1f} MB), median of {runs} run(s):")
            for name in LOADERS:
                print(
                    f"  {name:<18} {seconds[name]:7.2f} s  ({seconds[name] / seconds['baseline']:.2f}x baseline)"
                    f"  peak RSS {rss[name]:6.0f} MiB ({rss[name] / rss['baseline']:.2f}x baseline)"
                )
            speedup = seconds["baseline"] / seconds["strict"]
            versus_unchecked = seconds["libyaml-unchecked"] / seconds["strict"]
            print(
                f"  strict loader: {speedup:.1f}x faster than the baseline (target {TARGET_SPEEDUP:g}x), "
                f"{versus_unchecked:.1f}x as fast as unchecked libyaml (target 1x)"
            )
            failed |= speedup < TARGET_SPEEDUP or versus_unchecked < 1
    print("targets missed" if failed else "targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
