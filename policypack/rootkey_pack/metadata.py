"""Typed metadata for every policy: description, severity, remediation, URL and framework mappings.

pulumi_policy 1.21 carries one `PolicyComplianceFramework` per policy; the full mapping (every CIS AWS Foundations
version, Security Hub, Control Tower) lives here and is folded into the policy's tags and remediation text.
Control ids were checked against public sources (see the pack README); `verified=False` marks an inferred id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pulumi_policy import EnforcementLevel, PolicyComplianceFramework, Severity


@dataclass(frozen=True)
class FrameworkControl:
    framework: str
    version: str
    control: str
    verified: bool = True

    @property
    def tag(self) -> str:
        return f"{self.framework} {self.version}: {self.control}" + ("" if self.verified else " (inferred)")


def _cis(pairs: tuple[tuple[str, str, bool], ...]) -> tuple[FrameworkControl, ...]:
    return tuple(FrameworkControl("CIS AWS Foundations Benchmark", v, c, ok) for v, c, ok in pairs)


# "Ensure no 'root' user account access key exists".
CIS_NO_ROOT_KEY = _cis(
    (
        ("1.2.0", "1.12", True),
        ("1.3.0", "1.4", True),
        ("1.4.0", "1.4", True),
        ("1.5.0", "1.4", True),
        ("2.0.0", "1.4", True),
        ("3.0.0", "1.4", True),
        ("4.0.1", "1.4", True),
        ("5.0.0", "1.3", True),
        ("6.0.0", "2.3", True),
        ("7.0.0", "2.4", True),
    )
)
# "Ensure a log metric filter and alarm exist for usage of the 'root' account" / "... is monitored".
CIS_ROOT_USAGE_MONITORED = _cis(
    (
        ("1.2.0", "3.3", True),
        ("1.3.0", "4.3", True),
        ("1.4.0", "4.3", True),
        ("1.5.0", "4.3", False),
        ("2.0.0", "4.3", False),
        ("3.0.0", "4.3", False),
        ("4.0.1", "4.3", False),
        ("5.0.0", "4.3", True),
        ("6.0.0", "5.3", True),
        ("7.0.0", "5.3", False),
    )
)
SECURITY_HUB_IAM_4 = FrameworkControl("AWS Security Hub", "FSBP/CIS", "IAM.4")
SECURITY_HUB_CLOUDWATCH_1 = FrameworkControl("AWS Security Hub", "CIS", "CloudWatch.1")
CONTROL_TOWER_ROOT_KEYS = FrameworkControl(
    "AWS Control Tower", "strongly recommended", "AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS (GRRESTRICTROOTUSERACCESSKEYS)"
)

PREVENTION = CIS_NO_ROOT_KEY + (SECURITY_HUB_IAM_4, CONTROL_TOWER_ROOT_KEYS)
DETECTION = CIS_NO_ROOT_KEY + CIS_ROOT_USAGE_MONITORED + (SECURITY_HUB_IAM_4, SECURITY_HUB_CLOUDWATCH_1)
MONITORING = CIS_ROOT_USAGE_MONITORED + (SECURITY_HUB_CLOUDWATCH_1,)
AUDIT = CIS_NO_ROOT_KEY + (SECURITY_HUB_IAM_4,)

URL_SCP_EXAMPLES = "https://docs.aws.amazon.com/controltower/latest/controlreference/strongly-recommended-preventive-controls.html"
URL_SCP_SYNTAX = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html"
URL_CLOUDTRAIL_ALARMS = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudwatch-alarms-for-cloudtrail.html"
URL_SECURITY_HUB_CW1 = "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-1"
URL_SNS_ENCRYPTION = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
URL_CREDENTIAL_REPORT = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html"
URL_LAMBDA_FAILURES = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"
URL_TRAIL = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html"
URL_ORG_POLICIES = "https://docs.aws.amazon.com/organizations/latest/userguide/enable-policy-type.html"


@dataclass(frozen=True)
class PolicyMeta:
    name: str
    description: str  # one "Ensure ..." sentence
    severity: Severity
    enforcement: EnforcementLevel
    remediation: str
    url: str
    frameworks: tuple[FrameworkControl, ...]
    kind: str  # "stack" or "resource"

    @property
    def primary_framework(self) -> Optional[PolicyComplianceFramework]:
        for control in reversed(self.frameworks):
            if control.framework.startswith("CIS") and control.verified:
                return PolicyComplianceFramework(
                    name="cis-aws-foundations", version=control.version, reference=control.control,
                    specification="CIS Amazon Web Services Foundations Benchmark",
                )
        if self.frameworks:
            c = self.frameworks[0]
            return PolicyComplianceFramework(name=c.framework, version=c.version, reference=c.control)
        return None

    @property
    def tags(self) -> list[str]:
        return [c.tag for c in self.frameworks]

    @property
    def remediation_text(self) -> str:
        return f"{self.remediation} See {self.url}"
