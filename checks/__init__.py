"""The probes: one module per family, each a `Check` subclass with a frozen `Config`.

`checks.registry.CHECKS` maps the YAML `type:` to the class; `checks.base` is the contract
(run(timeout) -> CheckResult, bounded, may raise). Shared helpers: `thresholds` (warn/crit
levels and the numbers in messages), `database` (how mysql and postgres judge a query's
answer and connection saturation), `tlscert` (certificate expiry from a real handshake).
"""
