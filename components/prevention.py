"""Prevention: the service control policy that denies the root user iam:CreateAccessKey.

Serves CIS AWS Foundations 1.4 / Security Hub IAM.4 / Prowler iam_no_root_access_key by making the finding
impossible to cause in member accounts (Control Tower's GRRESTRICTROOTUSERACCESSKEYS). SCPs never apply to the
management account: detection and the audit cover it.
Opt-in: a statement denying root everything, and IAM centralized root access (RootCredentialsManagement and
RootSessions), which lets the management account delete member root credentials with sts:AssumeRoot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import documents

TYPE_TOKEN = "root-key-guardrails:prevention:DenyRootAccessKeys"


@dataclass(frozen=True)
class DenyRootAccessKeysArgs:
    partition: str
    enable_scp: bool
    # Resolved targets: root, OU or account ids (the organization root when the config leaves it empty).
    targets: tuple[str, ...]
    deny_all_root_actions: bool
    centralized_root_access: bool

    def __post_init__(self) -> None:
        # Fail closed: an SCP attached nowhere would read as prevention and prevent nothing.
        if self.enable_scp and not self.targets:
            raise ValueError("DenyRootAccessKeysArgs: the SCP needs at least one target")
        if not (self.enable_scp or self.centralized_root_access):
            raise ValueError("DenyRootAccessKeysArgs: nothing to build (no SCP, no centralized root access)")


class DenyRootAccessKeys(pulumi.ComponentResource):
    policy: aws.organizations.Policy | None
    attachments: tuple[aws.organizations.PolicyAttachment, ...]
    organizations_features: aws.iam.OrganizationsFeatures | None

    def __init__(self, name: str, args: DenyRootAccessKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.policy = None
        self.attachments = ()
        if args.enable_scp:
            self.policy = aws.organizations.Policy(
                f"{name}-scp",
                type="SERVICE_CONTROL_POLICY",
                description=(
                    "Denies iam:CreateAccessKey to the root user of member accounts (CIS 1.4, Security Hub IAM.4, "
                    "Control Tower GRRESTRICTROOTUSERACCESSKEYS). Managed by Pulumi (root-key-guardrails)."
                ),
                content=json.dumps(
                    documents.scp_document(args.partition, deny_all_root_actions=args.deny_all_root_actions)
                ),
                opts=child,
            )
            self.attachments = tuple(
                aws.organizations.PolicyAttachment(
                    f"{name}-attach-{target}",
                    policy_id=self.policy.id,
                    target_id=target,
                    opts=child,
                )
                for target in args.targets
            )

        self.organizations_features = None
        if args.centralized_root_access:
            self.organizations_features = aws.iam.OrganizationsFeatures(
                f"{name}-centralized-root-access",
                enabled_features=["RootCredentialsManagement", "RootSessions"],
                opts=child,
            )

        self.register_outputs(
            {
                "policyId": self.policy.id if self.policy else None,
                "policyArn": self.policy.arn if self.policy else None,
                "targets": list(args.targets) if args.enable_scp else [],
                "centralizedRootAccess": args.centralized_root_access,
            }
        )
