"""Text the guard is given (options, CI variables), refused when it is not what it claims to be.

Python hands command-line arguments and environment variables that are not valid UTF-8 over
as strings with lone surrogates. Such a reason or commit message can be neither judged (is
the hotfix tag in it?) nor written to the audit log, so it is a usage error (exit 2) naming
where it came from, instead of a crash halfway through writing the record.
"""

from __future__ import annotations

from collections.abc import Mapping


class UsageError(Exception):
    """A bad command-line value or CI variable (exit 2); the message names the option or variable."""


def utf8_text(value: str, where: str) -> str:
    """`value` unchanged when it is valid UTF-8; UsageError naming `where` and the bad byte otherwise."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
        raise UsageError(
            f"{where} is not valid UTF-8 ({what} at character {exc.start + 1}); "
            "deploy-guard can neither judge nor record it: write it in UTF-8"
        ) from None
    return value


def env_text(environ: Mapping[str, str], name: str) -> str:
    """The variable's value ("" when unset), refused when it is not valid UTF-8."""
    return utf8_text(environ.get(name, ""), f"${name}")
