"""Organization prerequisites of the chosen config, checked from getOrganization before any resource is registered.

Serves every organization-wide control: the SCP (CIS 1.4 / Security Hub IAM.4 prevention), the organization trail
(CIS 3.x/4.x detection), centralized root access and the member-account StackSet (the org-wide audit). Without
these an apply fails half-way (PolicyTypeNotEnabledException, CloudTrailOrganizationAccessNotEnabledException,
StackSet creation refused) after other resources already exist; here a preview stops first, with one line per
missing prerequisite naming it and the command that enables it.

Also the delegated-administrator rules: what a delegated administrator can deploy (the organization trail, the
StackSet with callAs DELEGATED_ADMIN, the SCP given an Organizations delegation policy, the org audit, remediation
through sts:AssumeRoot once registered for IAM) and what only the management account can
(aws.iam.OrganizationsFeatures, which enables centralized root access).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import ConfigError, GuardrailsConfig, TrailMode
from components.context import AwsContext

CLOUDTRAIL = "cloudtrail.amazonaws.com"
IAM = "iam.amazonaws.com"
STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"


class PrerequisiteError(pulumi.RunError):
    """The organization lacks what the config needs. A RunError, so the CLI prints the message alone."""


@dataclass(frozen=True)
class Prerequisite:
    what: str
    command: str

    def line(self) -> str:
        return f"{self.what}: {self.command}"


def missing_prerequisites(config: GuardrailsConfig, ctx: AwsContext) -> list[Prerequisite]:
    org = ctx.organization
    if org is None:
        return []
    needs_all_features = (
        config.enable_scp
        or config.enable_centralized_root_access
        or (config.enable_detection and config.trail_mode is TrailMode.ORGANIZATION)
        or config.deploys_member_stack_set
    )
    missing: list[Prerequisite] = []
    if needs_all_features and org.feature_set != "ALL":
        missing.append(Prerequisite(
            f"feature set ALL (organization {org.id} has {org.feature_set}; SCPs, organization trails, trusted "
            "access and service-managed StackSets need it)",
            "aws organizations enable-all-features, then every member account accepts the handshake",
        ))
    if config.enable_scp and "SERVICE_CONTROL_POLICY" not in org.root_policy_types:
        missing.append(Prerequisite(
            f"policy type SERVICE_CONTROL_POLICY enabled on root {org.root_id}",
            f"aws organizations enable-policy-type --root-id {org.root_id} --policy-type SERVICE_CONTROL_POLICY",
        ))
    principals = set(org.service_access_principals)
    if config.enable_detection and config.trail_mode is TrailMode.ORGANIZATION and CLOUDTRAIL not in principals:
        missing.append(Prerequisite(
            f"trusted access for {CLOUDTRAIL} (organization trail)",
            f"aws organizations enable-aws-service-access --service-principal {CLOUDTRAIL}",
        ))
    # sts:AssumeRoot (auditRemediate) is centralized root access too, from whichever account calls it.
    if (config.enable_centralized_root_access or config.audit_remediate) and IAM not in principals:
        missing.append(Prerequisite(
            f"trusted access for {IAM} (centralized root access)",
            f"aws organizations enable-aws-service-access --service-principal {IAM}",
        ))
    if config.deploys_member_stack_set and STACKSETS not in principals:
        missing.append(Prerequisite(
            f"trusted access for {STACKSETS} (service-managed StackSet to member accounts)",
            "aws cloudformation activate-organizations-access (from the management account)",
        ))
    if not ctx.is_management_account:
        missing.extend(_delegation_missing(config, ctx))
    return missing


def _delegation_missing(config: GuardrailsConfig, ctx: AwsContext) -> list[Prerequisite]:
    org = ctx.require_organization()
    delegated = set(org.delegated_services)
    register = (f"aws organizations register-delegated-administrator --account-id {ctx.account_id} "
                "--service-principal {principal} (from the management account)")
    missing: list[Prerequisite] = []
    if config.enable_detection and config.trail_mode is TrailMode.ORGANIZATION and CLOUDTRAIL not in delegated:
        missing.append(Prerequisite(
            f"account {ctx.account_id} registered as delegated administrator for {CLOUDTRAIL} (an organization "
            "trail from outside the management account)",
            f"aws cloudtrail register-organization-delegated-admin --member-account-id {ctx.account_id} "
            "(from the management account)",
        ))
    if config.deploys_member_stack_set and STACKSETS not in delegated:
        missing.append(Prerequisite(
            f"account {ctx.account_id} registered as delegated administrator for {STACKSETS} (StackSet with "
            "callAs DELEGATED_ADMIN)",
            register.format(principal=STACKSETS),
        ))
    if config.audit_remediate and IAM not in delegated:
        missing.append(Prerequisite(
            f"account {ctx.account_id} registered as delegated administrator for {IAM} (sts:AssumeRoot from "
            "outside the management account)",
            register.format(principal=IAM),
        ))
    if config.enable_audit and config.audit_org_role_name and not delegated:
        # AWS answers organizations:ListAccounts only in the management account or a delegated administrator (for
        # any service); anywhere else every audit run fails to list the accounts and reads as ERROR.
        missing.append(Prerequisite(
            f"account {ctx.account_id} registered as delegated administrator for an AWS service "
            "(root-key-guardrails:auditOrgRoleName makes the audit call organizations:ListAccounts, which AWS answers "
            "only in the management account or a delegated administrator)",
            f"aws organizations register-delegated-administrator --account-id {ctx.account_id} --service-principal "
            f"{IAM} (from the management account; any service will do), or deploy this stack from the management "
            "account",
        ))
    return missing


def delegated_admin_errors(config: GuardrailsConfig, ctx: AwsContext) -> list[str]:
    """Config the deploying account cannot apply as given, whatever is registered: a config error, not a
    prerequisite (from a delegated administrator: what only the management account can do; from the management
    account: remediation without the centralized root access this stack would enable there)."""
    if ctx.organization is None or ctx.is_management_account:
        # Centralized root access is enabled from the management account, by this stack: remediation there needs it.
        # (A delegated administrator cannot enable it, and relies on the management account having done so.)
        if config.audit_remediate and not config.enable_centralized_root_access:
            return [
                "root-key-guardrails:auditRemediate = \"true\": needs enableCentralizedRootAccess true when deployed "
                "from the management account (sts:AssumeRoot only works with RootSessions enabled, which this "
                "stack enables there); otherwise leave it at its default \"false\""
            ]
        return []
    errors: list[str] = []
    if config.enable_centralized_root_access:
        errors.append(
            "root-key-guardrails:enableCentralizedRootAccess = \"true\": aws.iam.OrganizationsFeatures can only be "
            f"managed from the management account {ctx.organization.management_account_id} (this stack deploys "
            f"from {ctx.account_id}, not the management account); set it false here and enable centralized root "
            "access from the management account (aws iam enable-organizations-root-credentials-management and "
            "aws iam enable-organizations-root-sessions)"
        )
    return errors


def delegated_admin_warnings(config: GuardrailsConfig, ctx: AwsContext) -> list[str]:
    if ctx.organization is None or ctx.is_management_account:
        return []
    warnings = []
    if config.enable_scp:
        # No data source reads the Organizations resource policy, so this cannot be checked at preview.
        warnings.append(
            f"deploying from {ctx.account_id}, not the management account {ctx.organization.management_account_id}: "
            "the SCP needs an Organizations delegation policy letting this account create, update, attach and "
            "detach SERVICE_CONTROL_POLICY policies (aws organizations put-resource-policy from the management "
            "account); without it the apply fails with AccessDeniedException"
        )
    if config.audit_org_role_name and config.deploys_member_stack_set:
        warnings.append(
            f"the org audit runs in {ctx.account_id}: a service-managed StackSet never deploys to the management "
            f"account {ctx.organization.management_account_id}, so create the {config.audit_org_role_name} role "
            "there yourself from the memberTemplateBody output, or that account reads as ERROR"
        )
    elif config.audit_org_role_name:
        warnings.append(
            f"the org audit runs in {ctx.account_id} and assumes {config.audit_org_role_name} in every other ACTIVE "
            f"account, the management account {ctx.organization.management_account_id} included: with memberStackSet "
            "false nothing here deploys that role, so create it in each of them yourself, or those accounts read as "
            "ERROR"
        )
    if config.audit_remediate:
        # No data source reads the organization's centralized root access features, so this cannot be checked.
        warnings.append(
            f"auditRemediate from {ctx.account_id}: sts:AssumeRoot works only once the management account "
            f"{ctx.organization.management_account_id} has enabled centralized root access with root sessions (aws "
            "iam enable-organizations-root-credentials-management and aws iam enable-organizations-root-sessions, or "
            "enableCentralizedRootAccess in a stack there); the preview cannot read that, and without it every "
            "remediation fails and the audit run reports the error"
        )
    return warnings


def check_prerequisites(config: GuardrailsConfig, ctx: AwsContext) -> None:
    errors = delegated_admin_errors(config, ctx)
    if errors:
        raise ConfigError("Invalid configuration:\n" + "\n".join(f"  {e}" for e in errors))
    missing = missing_prerequisites(config, ctx)
    if missing:
        org = ctx.require_organization()
        raise PrerequisiteError(
            f"Organization {org.id} is missing {len(missing)} prerequisite(s) of this configuration; nothing was "
            "deployed:\n" + "\n".join(f"  {p.line()}" for p in missing)
        )
