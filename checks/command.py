"""`command`: a Nagios-compatible plugin, run from an argv list (never a shell).

Exit 0/1/2/3 -> OK/WARNING/CRITICAL/UNKNOWN, any other exit or a signal -> UNKNOWN. The
first output line is the message; performance data after `|` (on the first line and in
the long output, as the plugin guidelines allow) becomes measurements in base units:
`s`/`ms`/`us` -> seconds, `%` -> ratio, `B`/`KB`/`MB`/`GB`/`TB` -> bytes (1024-based,
like the standard plugins), `c` and bare numbers as they are.

The plugin runs in its own process group with a small environment (PATH, LANG=C plus
`env`), so secrets of the daemon's environment do not leak into plugins. At the timeout
the whole group is SIGKILLed and reaped, and leftovers the plugin put in the background
are killed in any case: nothing lingers. A timeout is CRITICAL, like any check's, and the
result says `timed_out`.

Output is bounded in memory: the first OUTPUT_HEAD and the last OUTPUT_TAIL bytes are kept
(the message and perfdata sit at the start, a summary often at the end), the middle is
counted and dropped. A plugin that writes without end until its timeout costs the daemon
those few KiB, not gigabytes: the unit's `MemoryMax` is for the daemon, not for a plugin's
output. The kept output is scrubbed of the config's secrets before the message is cut from
it, and a secret cut in half by the dropped middle is masked at the cut, so no part of one
reaches the message (watchdog.common.logs).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from checks.base import Check, CheckResult, Status, timeout_result
from watchdog.common.logs import SCRUBBER

MAX_MESSAGE = 300
OUTPUT_HEAD = 8 * 1024
OUTPUT_TAIL = 8 * 1024
_READ_BYTES = 64 * 1024
_PERF_RE = re.compile(r"""('(?:[^']|'')+'|[^\s'=]+)=(-?[\d.]+(?:[eE][-+]?\d+)?)([a-zA-Z%]*)""")
_UNITS = {  # unit -> (factor to the base unit, measurement name suffix); case matters, as in the guidelines
    "": (1.0, ""), "c": (1.0, ""), "s": (1.0, "_seconds"), "ms": (1e-3, "_seconds"), "us": (1e-6, "_seconds"),
    "%": (0.01, "_ratio"), "B": (1.0, "_bytes"), "KB": (1024.0, "_bytes"), "MB": (1024.0**2, "_bytes"),
    "GB": (1024.0**3, "_bytes"), "TB": (1024.0**4, "_bytes"),
}  # fmt: skip
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
"""UTF-8 bytes that only continue a character: a tail cut mid-character starts with some."""
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class CommandOptions:
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    cwd: str = "/"

    def __post_init__(self) -> None:
        if not self.argv or not self.argv[0]:
            raise ValueError(
                "argv: give the plugin and its arguments as a list, e.g. "
                "[/usr/lib/nagios/plugins/check_ntp_time, -H, pool.ntp.org]"
            )


def parse_perfdata(text: str) -> dict[str, float]:
    """`'disk used'=10MB;20;30 load1=0.5` -> {"disk_used_bytes": 10485760.0, "load1": 0.5}."""
    values: dict[str, float] = {}
    for label, number, unit in _PERF_RE.findall(text):
        if unit not in _UNITS:
            continue
        factor, suffix = _UNITS[unit]
        try:
            value = float(number) * factor
        except ValueError:
            continue
        name = re.sub(r"[^a-z0-9]+", "_", label.strip("'").replace("''", "'").lower()).strip("_") or "value"
        values[name if name.endswith(suffix) else name + suffix] = value
    return values


class CommandCheck(Check[CommandOptions]):
    Config = CommandOptions

    def run(self, timeout: float) -> CheckResult:
        cfg = self.config
        env = {"PATH": os.environ.get("PATH", _DEFAULT_PATH), "LANG": "C", **cfg.env}
        deadline = time.monotonic() + timeout
        try:
            proc = subprocess.Popen(
                list(cfg.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cfg.cwd,
            )
        except OSError as exc:
            return CheckResult(Status.UNKNOWN, f"cannot run {cfg.argv[0]}: {exc.strerror or exc}")
        assert proc.stdout is not None
        with proc.stdout:
            output = BoundedOutput()
            finished = _read_until_exit(proc, output, deadline)
        if not finished:
            _kill_group(proc)
            return timeout_result(f"timeout after {timeout:g}s: {os.path.basename(cfg.argv[0])} killed")
        if _group_has_members(proc.pid):
            _kill_group(proc)
        return _result(proc.returncode, output.text())


class BoundedOutput:
    """The first OUTPUT_HEAD and last OUTPUT_TAIL bytes of a stream; the middle is only counted."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = OUTPUT_HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - OUTPUT_TAIL
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        """The kept output, scrubbed; when the middle was dropped, a marker line stands in its
        place and the lines cut by the gap are left out (half a perfdata line reads as wrong
        numbers). A line too long to leave out is cut there, with half a character or half a
        secret at the cut masked."""
        if not self.dropped:
            return SCRUBBER.scrub((self.head + self.tail).decode("utf-8", "replace"))
        head, tail = bytes(self.head), bytes(self.tail)
        head_cut, tail_cut = b"\n" not in head, b"\n" not in tail
        if not head_cut:
            head = head[: head.rindex(b"\n")]
        if not tail_cut:
            tail = tail[tail.index(b"\n") + 1 :]
        marker = f"\n[... {self.dropped} bytes of output left out ...]\n"
        # an incomplete character at either cut is dropped, so a secret's bytes next to it still match
        head_text = codecs.getincrementaldecoder("utf-8")("replace").decode(head)
        tail_text = tail.lstrip(_CONTINUATION_BYTES).decode("utf-8", "replace")
        return (
            SCRUBBER.scrub_piece(head_text, cut_end=head_cut)
            + marker
            + SCRUBBER.scrub_piece(tail_text, cut_start=tail_cut)
        )


def _read_until_exit(proc: subprocess.Popen[bytes], output: BoundedOutput, deadline: float) -> bool:
    """Reads the plugin's output into `output` until it closes it and exits; False when the
    deadline came first."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return False
            chunk = os.read(fd, _READ_BYTES)
            if not chunk:
                break
            output.add(chunk)
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the plugin's process group and reap the plugin.

    Only called while the group id cannot belong to anyone else: the plugin is not reaped
    yet, or members of its group are still alive. Its output is no longer read (the pipe is
    closed), so a grandchild that escaped into its own session cannot keep us waiting. A
    plugin stuck in the kernel (uninterruptible sleep, e.g. on a dead NFS mount) cannot die
    yet: after 5 s it is left for subprocess to reap later rather than blocking the check.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)


def _group_has_members(pgid: int) -> bool:
    """Whether a live process still belongs to process group `pgid` (leftovers of a plugin)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _result(returncode: int, output: str) -> CheckResult:
    lines = output.splitlines()
    first = lines[0] if lines else ""
    text, _, perf = first.partition("|")
    long_perf = " ".join(line.partition("|")[2] for line in lines[1:] if "|" in line)
    measurements = parse_perfdata(f"{perf} {long_perf}")
    message = text.strip()[:MAX_MESSAGE]
    if returncode < 0:
        return CheckResult(
            Status.UNKNOWN, f"plugin killed by signal {-returncode}" + (f": {message}" if message else ""), measurements
        )
    if returncode not in (0, 1, 2, 3):
        return CheckResult(
            Status.UNKNOWN, f"plugin exited with code {returncode}" + (f": {message}" if message else ""), measurements
        )
    return CheckResult(Status(returncode), message or f"exit code {returncode}, no output", measurements)
