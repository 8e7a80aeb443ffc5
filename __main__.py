"""root-key-guardrails: prevention, detection and audit of AWS root user access keys.

Wiring only (CIS 1.4 / Security Hub IAM.4 / Prowler iam_no_root_access_key): typed, validated config in, the
components built, outputs exported. Every config value is checked before the first resource registers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi

from components.audit import RootAccessKeyAudit, RootAccessKeyAuditArgs, keys_active_alarm_period
from components.config import IAM_EVENTS_REGION, check_environment, environment_warnings, load_config
from components.dashboard import DashboardArgs, GuardrailsDashboard
from components.context import lookup_context
from components.detection import RootAccessKeyDetection, RootAccessKeyDetectionArgs
from components.members import MemberAccounts, MemberAccountsArgs
from components.prerequisites import check_prerequisites, delegated_admin_warnings
from components.prevention import DenyRootAccessKeys, DenyRootAccessKeysArgs

config = load_config()
ctx = lookup_context(pulumi.get_stack(), with_organization=config.needs_organization)
check_environment(config, ctx.region, ctx.partition, organization=ctx.organization)
# From getOrganization (and, off the management account, getDelegatedServices): one line per missing prerequisite,
# before the first resource is registered.
check_prerequisites(config, ctx)
for warning in [*environment_warnings(config), *delegated_admin_warnings(config, ctx)]:
    pulumi.log.warn(warning)

prevention: DenyRootAccessKeys | None = None
scp_targets: tuple[str, ...] = ()
if config.enable_scp:
    scp_targets = config.scp_targets or (ctx.require_organization().root_id,)
if config.enable_scp or config.enable_centralized_root_access:
    prevention = DenyRootAccessKeys(
        "deny-root-access-keys",
        DenyRootAccessKeysArgs(
            partition=ctx.partition,
            enable_scp=config.enable_scp,
            targets=scp_targets,
            deny_all_root_actions=config.scp_deny_all_root_actions,
            centralized_root_access=config.enable_centralized_root_access,
        ),
    )

detection: RootAccessKeyDetection | None = None
if config.enable_detection:
    detection = RootAccessKeyDetection(
        "root-access-key-detection",
        RootAccessKeyDetectionArgs(
            context=ctx,
            trail_mode=config.trail_mode,
            existing_log_group_name=config.existing_log_group_name,
            log_retention_days=config.log_retention_days,
            metric_namespace=config.metric_namespace,
            alarm_period_seconds=config.alarm_period_seconds,
            cis_root_usage_alarm=config.cis_root_usage_alarm,
            event_bridge_detection=config.event_bridge_detection,
            subscriptions=config.subscriptions,
        ),
    )

audit: RootAccessKeyAudit | None = None
if config.enable_audit:
    audit = RootAccessKeyAudit(
        "root-access-key-audit",
        RootAccessKeyAuditArgs(
            context=ctx,
            # Relative to the project directory, where the CLI runs the program.
            package_dir=Path("audit"),
            schedule=config.audit_schedule,
            metric_namespace=config.metric_namespace,
            log_retention_days=config.log_retention_days,
            alarm_period_seconds=config.alarm_period_seconds,
            security_hub=config.audit_security_hub,
            org_role_name=config.audit_org_role_name,
            remediate=config.audit_remediate,
            max_report_age_hours=config.audit_max_report_age_hours,
            alerts=detection.alerts if detection else None,
            subscriptions=config.subscriptions,
        ),
    )

members: MemberAccounts | None = None
if config.deploys_member_stack_set:
    members = MemberAccounts(
        "member-accounts",
        MemberAccountsArgs(
            context=ctx,
            targets=config.member_stack_set_targets or (ctx.require_organization().root_id,),
            instance_region=IAM_EVENTS_REGION.get(ctx.partition, "us-east-1"),
            audit_role_name=config.audit_org_role_name if audit else "",
            audit_function_role_arn=audit.role_arn if audit and config.audit_org_role_name else None,
            alert_topic_arn=detection.alerts.arn if detection and config.org_event_forwarding else None,
        ),
    )

alerts = detection.alerts if detection else (audit.alerts if audit else None)
alarms = [*(detection.alarms if detection else ()), *(audit.alarms if audit else ())]

dashboard: GuardrailsDashboard | None = None
if config.deploys_dashboard:
    dashboard = GuardrailsDashboard(
        "guardrails-dashboard",
        DashboardArgs(
            dashboard_name=ctx.physical_name("dashboard", limit=255),
            region=ctx.region,
            metric_namespace=config.metric_namespace,
            alarm_arns=[alarm.arn for alarm in alarms],
            filter_metrics=detection.metric_names if detection else (),
            filter_period_seconds=config.alarm_period_seconds,
            audit_function_name=audit.function.name if audit else None,
            audit_period_seconds=keys_active_alarm_period(config.audit_schedule),
        ),
    )

pulumi.export("scpId", prevention.policy.id if prevention and prevention.policy else None)
pulumi.export("scpArn", prevention.policy.arn if prevention and prevention.policy else None)
pulumi.export("scpTargets", list(scp_targets))
pulumi.export("alarmTopicArn", alerts.arn if alerts else None)
pulumi.export("alarmNames", [alarm.name for alarm in alarms])
pulumi.export("trailArn", detection.trail.arn if detection and detection.trail else None)
pulumi.export("trailLogGroupName", detection.log_group_name if detection else None)
pulumi.export("eventRuleName", detection.rule.name if detection and detection.rule else None)
pulumi.export("auditFunctionName", audit.function.name if audit else None)
pulumi.export("auditLogGroupName", audit.log_group.name if audit else None)
pulumi.export("auditRoleArn", audit.role_arn if audit else None)
pulumi.export("memberStackSetName", members.stack_set.name if members else None)
# The template, for accounts a service-managed StackSet never reaches (the management account, when the audit
# runs from a delegated administrator).
pulumi.export("memberTemplateBody", json.dumps(members.template, indent=2) if members else None)
pulumi.export("dashboardName", dashboard.dashboard.dashboard_name if dashboard else None)
pulumi.export("centralEventBusArn", members.bus.arn if members and members.bus else None)
