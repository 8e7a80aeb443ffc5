"""Where the guardrails deploy: account, region, partition and (when a control needs it) the organization.

Serves every control: policies are built from these known values so the policy pack can judge them at preview.
The lookups are data-source invokes, which run during a preview, and they run before any resource is registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi_aws as aws

from components.config import PROJECT

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# CloudTrail refuses adjacent -, _ or . in trail names (my--trail, my-_trail); one rule for every physical name.
_NAME_RUNS = re.compile(r"[-_.]{2,}")


@dataclass(frozen=True)
class Organization:
    id: str
    root_id: str
    management_account_id: str
    # Every account in the organization, the management account too: what an SCP target may name.
    account_ids: tuple[str, ...] = ()
    # What the prerequisites are checked against (components.prerequisites), all from getOrganization.
    feature_set: str = "ALL"
    root_policy_types: tuple[str, ...] = ("SERVICE_CONTROL_POLICY",)
    service_access_principals: tuple[str, ...] = ()
    # Services the deploying account is delegated administrator for; empty in the management account.
    delegated_services: tuple[str, ...] = ()


@dataclass(frozen=True)
class AwsContext:
    account_id: str
    region: str
    partition: str
    stack: str
    dns_suffix: str = "amazonaws.com"
    organization: Organization | None = None

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def service_host(self, service: str) -> str:
        return f"{service}.{self.region}.{self.dns_suffix}"

    def physical_name(self, suffix: str, *, limit: int) -> str:
        """A stack-qualified name for resources whose ARN must be known before they exist (trail, log groups, the
        audit role). Letters, digits, - and _ only, no two separators in a row, starting and ending alphanumeric:
        the intersection of the naming rules of CloudTrail, IAM, Lambda, KMS aliases and CloudWatch Logs."""
        name = _NAME_RUNS.sub("-", _NAME_UNSAFE.sub("-", f"{PROJECT}-{self.stack}-{suffix}"))
        return name[:limit].strip("-_")

    @property
    def is_management_account(self) -> bool:
        return self.organization is not None and self.organization.management_account_id == self.account_id

    @property
    def trail_owner_account_id(self) -> str:
        """The account an organization trail belongs to: the management account, even when a delegated
        administrator creates it (its ARN, and so aws:SourceArn and the KMS encryption context, name that account)."""
        return self.organization.management_account_id if self.organization else self.account_id

    def require_organization(self) -> Organization:
        if self.organization is None:
            raise RuntimeError("this control needs the AWS Organization, which was not looked up")
        return self.organization


def lookup_context(stack: str, *, with_organization: bool) -> AwsContext:
    identity = aws.get_caller_identity()
    region = aws.get_region()
    partition = aws.get_partition()
    organization = None
    if with_organization:
        org = aws.organizations.get_organization()
        if not org.roots:
            raise RuntimeError(f"organization {org.id} reports no root; cannot attach the SCP to it")
        root = org.roots[0]
        delegated: tuple[str, ...] = ()
        if org.master_account_id != identity.account_id:
            # ListDelegatedServicesForAccount answers for a delegated administrator too; it tells which services
            # (CloudTrail, StackSets, IAM) this account may act for, before anything is created.
            services = aws.organizations.get_delegated_services(account_id=identity.account_id)
            delegated = tuple(sorted(s.service_principal for s in services.delegated_services))
        organization = Organization(
            id=org.id,
            root_id=root.id,
            management_account_id=org.master_account_id,
            account_ids=tuple(sorted(account.id for account in org.accounts or ())),
            feature_set=org.feature_set,
            root_policy_types=tuple(sorted(p.type for p in root.policy_types if p.status == "ENABLED")),
            service_access_principals=tuple(sorted(org.aws_service_access_principals or ())),
            delegated_services=delegated,
        )
    return AwsContext(
        account_id=identity.account_id,
        region=region.region,
        partition=partition.partition,
        stack=stack,
        dns_suffix=partition.dns_suffix,
        organization=organization,
    )
