"""shop-watchdog: keeps an online shop's server alive (probe, repair, page)."""

__version__ = "0.1.0"
"""The one place the version is written (pyproject.toml reads it). Reading it back through
importlib.metadata would cost the daemon 0.8 MB of memory for zipfile, csv and email parsing."""
