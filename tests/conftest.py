"""Shared pytest wiring: fixtures that start real servers live in tests/servers/."""

pytest_plugins = ["tests.servers.fixtures", "tests.servers.notify_fixtures", "tests.servers.installs"]
