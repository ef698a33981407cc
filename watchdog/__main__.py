"""`python -m watchdog` is `shop-watchdog`."""

from watchdog.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
