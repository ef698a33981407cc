"""`python -m watchdog` is `shop-watchdog`."""

from watchdog.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
