"""Notification channels: one module per transport, registered in `registry.CHANNELS`."""
