"""deploy_guard: the release gate CI pipelines ask before every release (see docs/deploy-guard.md).

Kept empty on purpose: the CLI starts in every pipeline, so each command imports only the
modules it needs. `deploy_guard.holiday_calendar` is shared with the watchdog daemon.
"""
