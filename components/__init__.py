"""The three root-access-key guardrails as Pulumi components (prevention, detection, audit) and their config.

Prevention serves CIS 1.4 / Security Hub IAM.4 through an SCP (Control Tower GRRESTRICTROOTUSERACCESSKEYS),
detection serves CIS 1.7 / 4.3 / Security Hub CloudWatch.1, and the audit re-checks IAM.4 on a schedule.
Nothing here imports the policy pack; the pack judges what these components register.
"""

from components.audit import RootAccessKeyAudit, RootAccessKeyAuditArgs
from components.config import ConfigError, GuardrailsConfig, TrailMode, load_config, parse_config
from components.detection import RootAccessKeyDetection, RootAccessKeyDetectionArgs
from components.prevention import DenyRootAccessKeys, DenyRootAccessKeysArgs

__all__ = [
    "ConfigError",
    "DenyRootAccessKeys",
    "DenyRootAccessKeysArgs",
    "GuardrailsConfig",
    "RootAccessKeyAudit",
    "RootAccessKeyAuditArgs",
    "RootAccessKeyDetection",
    "RootAccessKeyDetectionArgs",
    "TrailMode",
    "load_config",
    "parse_config",
]
