"""Detection: root CreateAccessKey (and, per CIS, any root usage) raises an alarm within minutes.

Serves CIS AWS Foundations 1.4 / Security Hub IAM.4 (a root access key being created) and CIS 1.7 / 4.3 /
Security Hub CloudWatch.1 (root usage), and also covers the management account, which no SCP reaches.

Path 1 (every account of the organization): a multi-region CloudTrail trail -> CloudWatch Logs -> metric filters
-> alarms -> KMS-encrypted SNS topic. Latency is CloudTrail's delivery to CloudWatch Logs, typically ~5 minutes.
Path 2 (the deploying account, about a minute): an EventBridge rule on the "AWS API Call via CloudTrail" event to
the same topic. IAM is a global service whose events reach EventBridge in us-east-1 only, so the config check
refuses this path in any other region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import documents
from components.alerting import AlertTopic, build_alarm, build_alert_topic
from components.config import Subscription, TrailMode
from components.context import AwsContext

TYPE_TOKEN = "root-key-guardrails:detection:RootAccessKeyDetection"

ALARM_CREATED_DESCRIPTION = (
    "Why: the root user of an AWS account created an access key (CIS 1.4, Security Hub IAM.4). Root keys never "
    "expire, bypass console MFA and can do anything. What to do: if this was not an approved break-glass action, "
    "treat the account as compromised - delete the key (root user > Security credentials > Access keys, or "
    "sts:AssumeRoot with IAMDeleteRootUserCredentials), reset the root password and MFA, and search CloudTrail for "
    "the key id. In a member account the deny-root-access-keys SCP should have refused this: check its attachment."
)
ALARM_CIS_DESCRIPTION = (
    "Why: the root user was used (CIS 1.7 / 4.3, Security Hub CloudWatch.1); root should only do the few tasks that "
    "require it. What to do: find the event in CloudTrail (userIdentity.type = Root) and confirm it was an approved "
    "root-only task; otherwise secure the root user (password, MFA, access keys) and investigate the session."
)
EVENT_MESSAGE_TEMPLATE = (
    '"Root user of AWS account <account> called iam:CreateAccessKey at <time> from <sourceIp> (errorCode: '
    '<errorCode>; empty means it succeeded). If this was not an approved break-glass action, delete the key, reset '
    'the root password and MFA, and investigate."'
)


@dataclass(frozen=True)
class RootAccessKeyDetectionArgs:
    context: AwsContext
    trail_mode: TrailMode
    existing_log_group_name: str
    log_retention_days: int
    metric_namespace: str
    alarm_period_seconds: int
    cis_root_usage_alarm: bool
    event_bridge_detection: bool
    subscriptions: tuple[Subscription, ...]

    def __post_init__(self) -> None:
        if (self.trail_mode is TrailMode.EXISTING) != bool(self.existing_log_group_name):
            raise ValueError("RootAccessKeyDetectionArgs: existing_log_group_name is required iff trail_mode is existing")
        if self.trail_mode is TrailMode.ORGANIZATION:
            self.context.require_organization()


@dataclass(frozen=True)
class _Trail:
    trail: aws.cloudtrail.Trail
    bucket: aws.s3.Bucket
    log_group: aws.cloudwatch.LogGroup
    arn: str


class RootAccessKeyDetection(pulumi.ComponentResource):
    alerts: AlertTopic
    log_group_name: pulumi.Output[str]
    trail: aws.cloudtrail.Trail | None
    alarms: tuple[aws.cloudwatch.MetricAlarm, ...]
    rule: aws.cloudwatch.EventRule | None

    def __init__(
        self, name: str, args: RootAccessKeyDetectionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)

        trail: _Trail | None = None
        if args.trail_mode is TrailMode.EXISTING:
            self.log_group_name = pulumi.Output.from_input(args.existing_log_group_name)
        else:
            trail = self._trail(name, args, child)
            self.log_group_name = trail.log_group.name
        self.trail = trail.trail if trail else None

        self.alerts = build_alert_topic(self, name, ctx, subscriptions=args.subscriptions)

        # The filters' metric names, in order, for the dashboard.
        self.metric_names: tuple[str, ...] = (documents.METRIC_ROOT_ACCESS_KEY_CREATED,
                                              documents.METRIC_ROOT_ACCESS_KEY_CREATION_DENIED) + (
            (documents.METRIC_ROOT_ACCOUNT_USAGE,) if args.cis_root_usage_alarm else ())
        created = self._filter(name, "created", documents.METRIC_ROOT_ACCESS_KEY_CREATED,
                               documents.PATTERN_ROOT_ACCESS_KEY_CREATED, args, child)
        # Counted, not alarmed: evidence that the SCP refuses the call in member accounts.
        self._filter(name, "denied", documents.METRIC_ROOT_ACCESS_KEY_CREATION_DENIED,
                     documents.PATTERN_ROOT_ACCESS_KEY_CREATION_DENIED, args, child)
        alarms = [self._alarm(name, "created", created, ALARM_CREATED_DESCRIPTION, args)]
        if args.cis_root_usage_alarm:
            cis = self._filter(name, "cis-root-usage", documents.METRIC_ROOT_ACCOUNT_USAGE,
                               documents.PATTERN_CIS_ROOT_USAGE, args, child)
            alarms.append(self._alarm(name, "cis-root-usage", cis, ALARM_CIS_DESCRIPTION, args))
        self.alarms = tuple(alarms)

        self.rule = None
        if args.event_bridge_detection:
            self.rule = aws.cloudwatch.EventRule(
                f"{name}-root-create-access-key",
                description="Root user iam:CreateAccessKey (CIS 1.4, Security Hub IAM.4), seconds after the call.",
                event_pattern=json.dumps(documents.ROOT_CREATE_ACCESS_KEY_EVENT_PATTERN),
                state="ENABLED",
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-root-create-access-key-alert",
                rule=self.rule.name,
                target_id="alerts-topic",
                arn=self.alerts.arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=documents.ROOT_KEY_EVENT_INPUT_PATHS,
                    input_template=EVENT_MESSAGE_TEMPLATE,
                ),
                opts=child,
            )

        self.register_outputs(
            {
                "trailArn": trail.arn if trail else None,
                "trailBucketName": trail.bucket.bucket if trail else None,
                "logGroupName": self.log_group_name,
                "topicArn": self.alerts.arn,
                "alarmNames": [alarm.name for alarm in self.alarms],
                "eventRuleName": self.rule.name if self.rule else None,
            }
        )

    def _trail(self, name: str, args: RootAccessKeyDetectionArgs, child: pulumi.ResourceOptions) -> _Trail:
        ctx = args.context
        organization = args.trail_mode is TrailMode.ORGANIZATION
        org_id = ctx.require_organization().id if organization else None
        # Named up front: the bucket, key and role policies must name the trail (aws:SourceArn) before it exists.
        trail_name = ctx.physical_name("trail", limit=128)
        # An organization trail is the management account's even when a delegated administrator creates it.
        trail_account = ctx.trail_owner_account_id if organization else ctx.account_id
        trail_arn = f"arn:{ctx.partition}:cloudtrail:{ctx.region}:{trail_account}:trail/{trail_name}"

        key = aws.kms.Key(
            f"{name}-trail-key",
            description=f"Encrypts the log files of CloudTrail trail {trail_name}.",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(documents.trail_key_policy(ctx, trail_arn=trail_arn, trail_account_id=trail_account)),
            opts=child,
        )
        bucket = aws.s3.Bucket(f"{name}-trail-bucket", opts=child)
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-trail-bucket-ownership",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-trail-bucket-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        # Log files are SSE-KMS with the trail key (set on the trail); this default covers anything else.
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-trail-bucket-encryption",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-trail-bucket-versioning",
            bucket=bucket.bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-trail-bucket-policy",
            bucket=bucket.bucket,
            policy=bucket.bucket.apply(
                lambda bucket_name: json.dumps(
                    documents.trail_bucket_policy(
                        ctx, bucket=bucket_name, trail_arn=trail_arn, trail_account_id=trail_account,
                        organization_id=org_id,
                    )
                )
            ),
            # A public-access block applied after the policy could reject it; apply the block first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access, ownership]),
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            name=f"/aws/cloudtrail/{trail_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        log_group_arn = log_group.name.apply(lambda group: ctx.arn("logs", f"log-group:{group}"))
        role = aws.iam.Role(
            f"{name}-trail-logs-role",
            description=f"Lets CloudTrail trail {trail_name} deliver to its CloudWatch log group, and nothing else.",
            # No aws:SourceArn / aws:SourceAccount: CloudTrail's CloudWatch Logs role does not support them (AWS,
            # "Role policy document for CloudTrail to use CloudWatch Logs"), and with them CreateTrail fails with
            # InvalidCloudWatchLogsRoleArnException or delivery stops, blinding every metric-filter alarm. The
            # permission policy is what keeps the role to this one log group.
            assume_role_policy=json.dumps(documents.service_trust_policy("cloudtrail.amazonaws.com")),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-trail-logs-policy",
            role=role.name,
            policy=log_group_arn.apply(lambda arn: json.dumps(documents.log_delivery_policy(arn))),
            opts=child,
        )

        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=bucket.bucket,
            kms_key_id=key.arn,
            is_multi_region_trail=True,
            is_organization_trail=organization,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            # CIS asks for a trail that records all management events, read and write.
            event_selectors=[
                aws.cloudtrail.TrailEventSelectorArgs(read_write_type="All", include_management_events=True)
            ],
            # CloudTrail wants the log group ARN with the ":*" stream wildcard.
            cloud_watch_logs_group_arn=log_group_arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[bucket_policy, role_policy, encryption, versioning]
            ),
        )
        return _Trail(trail=trail, bucket=bucket, log_group=log_group, arn=trail_arn)

    def _filter(
        self,
        name: str,
        role: str,
        metric: str,
        pattern: str,
        args: RootAccessKeyDetectionArgs,
        child: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.LogMetricFilter:
        return aws.cloudwatch.LogMetricFilter(
            f"{name}-filter-{role}",
            log_group_name=self.log_group_name,
            pattern=pattern,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=metric, namespace=args.metric_namespace, value="1"
            ),
            opts=child,
        )

    def _alarm(
        self,
        name: str,
        role: str,
        metric_filter: aws.cloudwatch.LogMetricFilter,
        description: str,
        args: RootAccessKeyDetectionArgs,
    ) -> aws.cloudwatch.MetricAlarm:
        transformation = metric_filter.metric_transformation
        # No events is the normal state of these metrics, not missing data.
        return build_alarm(
            self,
            f"{name}-alarm-{role}",
            description=description,
            namespace=transformation.namespace,
            metric_name=transformation.name,
            period=args.alarm_period_seconds,
            topic_arn=self.alerts.arn,
        )
