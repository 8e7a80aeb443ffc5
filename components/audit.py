"""Audit: a scheduled Lambda reads the IAM credential report and reports active root access keys.

Serves Prowler iam_no_root_access_key / CIS 1.4 / Security Hub IAM.4 as a continuous check: keys created before
the SCP, in the management account, or while detection was down are still found. The Lambda is the real `audit/`
package; it publishes RootAccessKeysActive and AuditErrors metrics, alerts through the topic and (opt-in) sends
ASFF findings to Security Hub and deletes member-account root keys through sts:AssumeRoot.
Fail closed: an alarm on the function's Errors, an on-failure destination, and an alarm that also fires when the
RootAccessKeysActive metric stops arriving (a stopped audit must not read as "no keys").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import documents
from components.alerting import AlertTopic, build_alarm, build_alert_topic
from components.config import Subscription, schedule_interval_seconds
from components.context import AwsContext

TYPE_TOKEN = "root-key-guardrails:audit:RootAccessKeyAudit"

HANDLER = "audit.handler.handler"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
MAX_WORKERS = 8

ALARM_ERRORS_DESCRIPTION = (
    "Why: the root-access-key audit Lambda failed, so root keys may exist unreported (CIS 1.4, Security Hub IAM.4). "
    "What to do: read the function's log group for the error (credential report, AssumeRole into a member account, "
    "throttling), fix it, and run the function again; the on-failure destination has the failed event."
)
ALARM_KEYS_ACTIVE_DESCRIPTION = (
    "Why: the audit found an active root access key (RootAccessKeysActive >= 1, state ALARM), or stopped reporting "
    "(state INSUFFICIENT_DATA: no datapoint for two schedule intervals), because an audit that does not run proves "
    "nothing. What to do: for ALARM, read the audit's alert or Security Hub finding for the account, delete the root "
    "key (root user > Security credentials, or sts:AssumeRoot with IAMDeleteRootUserCredentials) and check "
    "CloudTrail for its use; for INSUFFICIENT_DATA, check that the audit function and its schedule run."
)


def audit_archive(package_dir: Path) -> pulumi.AssetArchive:
    """The `audit/` package at the archive root, so Lambda imports `audit.handler`.

    Listed file by file rather than as a FileArchive so bytecode caches never enter the zip (its hash, and so the
    deployment, only changes when the source does).
    """
    if not (package_dir / "handler.py").is_file():
        raise pulumi.RunError(f"{package_dir / 'handler.py'} is missing: the audit Lambda would have no handler")
    files = sorted(
        path
        for path in package_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    )
    return pulumi.AssetArchive(
        {f"audit/{path.relative_to(package_dir).as_posix()}": pulumi.FileAsset(str(path)) for path in files}
    )


def keys_active_alarm_period(schedule: str) -> int:
    """Two of the schedule's longest gaps, so one late run does not look like a stopped audit.

    The config refuses a schedule whose gap exceeds 12 hours, so this never exceeds CloudWatch's one-day cap; a
    larger value here is a bug upstream, not something to clamp quietly (a clamped period alarms on a healthy gap).
    """
    period = 2 * schedule_interval_seconds(schedule)
    if period > 86400:
        raise ValueError(f"schedule {schedule!r} leaves more than 12 hours between runs; the config should refuse it")
    return period


def audit_role_name(ctx: AwsContext) -> str:
    """The audit function's role name: fixed and stack-qualified, so member-account roles can trust its ARN before
    it exists, and a replacement keeps the same ARN."""
    return ctx.physical_name("audit", limit=64)


def audit_role_arn(ctx: AwsContext) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{audit_role_name(ctx)}"


@dataclass(frozen=True)
class RootAccessKeyAuditArgs:
    context: AwsContext
    package_dir: Path
    schedule: str
    metric_namespace: str
    log_retention_days: int
    alarm_period_seconds: int
    security_hub: bool
    org_role_name: str
    remediate: bool
    max_report_age_hours: int
    # The detection component's topic; None builds one here (detection off) with these subscriptions.
    alerts: AlertTopic | None = None
    subscriptions: tuple[Subscription, ...] = ()

    def __post_init__(self) -> None:
        if self.remediate and not self.org_role_name:
            raise ValueError("RootAccessKeyAuditArgs: remediation needs the organization audit (org_role_name)")
        if self.org_role_name:
            self.context.require_organization()


class RootAccessKeyAudit(pulumi.ComponentResource):
    function: aws.lambda_.Function
    log_group: aws.cloudwatch.LogGroup
    alerts: AlertTopic
    alarms: tuple[aws.cloudwatch.MetricAlarm, ...]
    # Known at preview (fixed name): what member-account audit roles trust.
    role_arn: str

    def __init__(self, name: str, args: RootAccessKeyAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Before registering anything: a missing handler must stop the program, not ship an empty function.
        archive = audit_archive(args.package_dir)
        super().__init__(TYPE_TOKEN, name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)

        self.alerts = args.alerts or build_alert_topic(self, name, ctx, subscriptions=args.subscriptions)

        function_name = ctx.physical_name("audit", limit=64)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        log_group_arn = self.log_group.name.apply(lambda group: ctx.arn("logs", f"log-group:{group}"))

        self.role_arn = audit_role_arn(ctx)
        role = aws.iam.Role(
            f"{name}-role",
            name=audit_role_name(ctx),
            description="Execution role of the root-access-key audit Lambda.",
            assume_role_policy=json.dumps(documents.service_trust_policy("lambda.amazonaws.com")),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.name,
            policy=pulumi.Output.all(log_group_arn, self.alerts.arn).apply(
                lambda values: json.dumps(
                    documents.audit_role_policy(
                        ctx,
                        log_group_arn=values[0],
                        namespace=args.metric_namespace,
                        topic_arn=values[1],
                        key_alias=self.alerts.key_alias,
                        security_hub=args.security_hub,
                        org_role_name=args.org_role_name,
                        remediate=args.remediate,
                    )
                )
            ),
            opts=child,
        )
        organization_mode = bool(args.org_role_name)
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Reads the IAM credential report and reports active root access keys (CIS 1.4, IAM.4).",
            role=role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            code=archive,
            # Organization mode generates and polls one credential report per member account. Lambda's CPU grows
            # with memory: at 512 MB the measured 6 to 8 ms of CPU per account leaves room for about 30,000
            # accounts in 840 s (the README's bench), twice what 256 MB allows.
            timeout=900 if organization_mode else 300,
            memory_size=512 if organization_mode else 256,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "AUDIT_METRIC_NAMESPACE": args.metric_namespace,
                    "AUDIT_SNS_TOPIC_ARN": self.alerts.arn,
                    "AUDIT_SECURITY_HUB": "true" if args.security_hub else "false",
                    "AUDIT_ORG_ROLE_NAME": args.org_role_name,
                    "AUDIT_MAX_REPORT_AGE_HOURS": str(args.max_report_age_hours),
                    "AUDIT_REMEDIATE": "true" if args.remediate else "false",
                    "AUDIT_MAX_WORKERS": str(MAX_WORKERS),
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        function_arn = self.function.name.apply(lambda fn: ctx.arn("lambda", f"function:{fn}"))

        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-on-failure",
            function_name=self.function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.alerts.arn
                )
            ),
            opts=child,
        )

        schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description="Runs the root-access-key audit.",
            schedule_expression=args.schedule,
            state="ENABLED",
            opts=child,
        )
        schedule_arn = schedule.name.apply(lambda rule: ctx.arn("events", f"rule/{rule}"))
        permission = aws.lambda_.Permission(
            f"{name}-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            source_arn=schedule_arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=schedule.name,
            target_id="audit-function",
            arn=function_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

        errors = build_alarm(
            self,
            f"{name}-alarm-errors",
            description=ALARM_ERRORS_DESCRIPTION,
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": self.function.name},
            period=args.alarm_period_seconds,
            topic_arn=self.alerts.arn,
        )
        # Maximum of the org-wide total over two schedule intervals. A stopped audit must alarm, a fresh deployment
        # must not: treating missing data as breaching would page everyone until the first run. With "missing" the
        # alarm starts in INSUFFICIENT_DATA (no action: a new alarm does not transition into it), the first run
        # moves it to OK or ALARM, and once no datapoint arrives for a whole period (two intervals) it transitions
        # back to INSUFFICIENT_DATA, whose action notifies the topic.
        keys_active = build_alarm(
            self,
            f"{name}-alarm-root-keys-active",
            description=ALARM_KEYS_ACTIVE_DESCRIPTION,
            namespace=args.metric_namespace,
            metric_name=documents.METRIC_ROOT_ACCESS_KEYS_ACTIVE,
            statistic="Maximum",
            period=keys_active_alarm_period(args.schedule),
            topic_arn=self.alerts.arn,
            treat_missing_data="missing",
            notify_insufficient_data=True,
            # The all-clear once no root key is left: without Security Hub it is the only recovery notice, since
            # the audit then keeps no previous verdict to compare with.
            notify_ok=True,
        )
        self.alarms = (errors, keys_active)

        self.register_outputs(
            {
                "functionName": self.function.name,
                "logGroupName": self.log_group.name,
                "topicArn": self.alerts.arn,
                "alarmNames": [alarm.name for alarm in self.alarms],
                "schedule": args.schedule,
                "roleArn": self.role_arn,
            }
        )
