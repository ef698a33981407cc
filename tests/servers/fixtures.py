"""pytest fixtures wrapping the real servers in tests/servers/ (each started and stopped per use)."""
