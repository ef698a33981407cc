"""deploy_guard: the release gate CI pipelines ask before every release (see the README).

Kept empty on purpose: the CLI starts in every pipeline, so each command imports only the
modules it needs. The holiday calendar it shares with the daemon lives in
`watchdog.common`, the only part of `watchdog` it imports.
"""
