"""The embedded default policy: exactly the one in the product contract (DESIGN.md).

Used when neither $DEPLOY_GUARD_CONFIG nor /etc/shop-watchdog/deploy-guard.yaml exists.
config/deploy-guard.yaml is the same policy with comments; a test keeps the two equal.
"""

DEFAULT_POLICY_YAML = """\
timezone: Europe/Warsaw
windows:
  - {days: [mon, tue, wed, thu], start: "08:00", end: "12:00"}
holidays:
  country: PL
  extra: {2026-12-31: "company day off"}
  block_days_before: 1
freezes:
  - {name: black-week, start: 2026-11-23, end: 2026-11-30, reason: "peak traffic"}
hotfix:
  branch_patterns: ["hotfix/*"]
  commit_tags: ["[hotfix]"]
  require_reason: true
incident_gate:
  status_urls: [http://127.0.0.1:9841/api/v1/status]
  block_on: critical
  on_unreachable: block
audit_log: /var/log/shop-watchdog/deploy-guard.jsonl
"""
