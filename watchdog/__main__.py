"""`shop-watchdog` and `python -m watchdog`: the daemon's CLI, once its extra is installed.

The base install is the release gate alone (deploy-guard); the daemon's libraries come with
`pip install 'shop-watchdog[daemon]'` (or [all]). Without them every command exits 2 with
one line naming the extra, checked before the CLI's imports could fail with a traceback.
"""

from __future__ import annotations

import sys

from watchdog.common.extras import DAEMON, OPTIONAL_MODULES, absent_modules

EXIT_MISSING_EXTRA = 2


def main() -> int:
    absent = absent_modules(DAEMON)
    if absent:
        extra = OPTIONAL_MODULES[absent[0]]
        print(
            f"shop-watchdog: the daemon needs its extra ({', '.join(absent)} not installed): {extra.install}",
            file=sys.stderr,
        )
        return EXIT_MISSING_EXTRA
    from watchdog.cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
