"""The CloudWatch metric names and dimension the audit publishes, kept once.

Serves the audit control (CIS 1.4 / Security Hub IAM.4): the audit's publisher, the alarms and the dashboard in
components/ all read these, so a rename changes every reader with the writer. Pure constants: the Lambda package
and the Pulumi program both import this module.
"""

from __future__ import annotations

METRIC_ROOT_ACCESS_KEYS_ACTIVE = "RootAccessKeysActive"
METRIC_AUDIT_ERRORS = "AuditErrors"
# Per-account datums carry this dimension; the org-wide totals carry none.
DIMENSION_ACCOUNT_ID = "AccountId"
