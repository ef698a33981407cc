"""Config files meant to hurt a YAML loader, for the tests that feed them to the daemon.

Each is rejected by the strict loader of watchdog.common.strict_yaml in one line; the tests
prove the daemon side: `check-config` exits 2 with that line, and SIGHUP never stops the
daemon.
"""

from __future__ import annotations


def billion_laughs() -> bytes:
    """Nine levels of ten aliases each: 10**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    lines.append("defaults: {interval: *i}")
    return ("\n".join(lines) + "\n").encode()


HOSTILE_FILES: dict[str, bytes] = {
    "not UTF-8": b"checks: []\nhost: caf\xe9\n",
    "binary garbage": bytes(range(256)) * 64,
    "deeply nested": b"defaults: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "alias bomb": billion_laughs(),
    "very large": b"# padding\n" * (2 * 1024 * 1024),
    "duplicate key": b"checks: []\nlog_level: info\nlog_level: debug\n",
    "duplicate nested key": b"checks:\n  - {name: a, type: disk, path: /, path: /var}\n",
    "non-finite number": b"defaults: {interval: .inf}\n",
    "overflowing number": b"defaults: {retries: 1.0e+20}\n",
    "megabyte-long value": b"defaults: {interval: '" + b"x" * 1_000_000 + b"'}\n",
}
