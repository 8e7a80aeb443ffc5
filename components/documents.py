"""The policy documents, filter patterns and event patterns of the three guardrails, as plain data.

Everything here is pure: dicts from known strings, so the program can `json.dumps` them at preview and the policy
pack can judge the exact text. The canonical truths the pack also holds (the SCP statement, the filter patterns)
live here once on the program side; the default-program-passes-the-pack contract test ties the two copies.

- Prevention (Control Tower GRRESTRICTROOTUSERACCESSKEYS, CIS 1.4, Security Hub IAM.4): `scp_document`.
- Detection (CIS 1.7 / 4.3, Security Hub CloudWatch.1): the filter patterns, the trail's bucket/key/role
  policies, the alert topic's key and topic policies, the EventBridge pattern.
- Audit (Prowler iam_no_root_access_key): the Lambda role's policies.
"""

from __future__ import annotations

from typing import Any

import audit.metrics as audit_metrics
from components.context import AwsContext

Document = dict[str, Any]

VERSION = "2012-10-17"

# --- Prevention -------------------------------------------------------------------------------------------------


def root_principal_pattern(partition: str) -> str:
    return f"arn:{partition}:iam::*:root"


def scp_document(partition: str, *, deny_all_root_actions: bool) -> Document:
    """Deny root access-key creation in every member account; optionally deny root everything.

    ArnLike on aws:PrincipalArn is Control Tower's GRRESTRICTROOTUSERACCESSKEYS semantics. The deny-all statement
    exempts sessions opened with sts:AssumeRoot (aws:AssumedRoot present), as AWS's own example does, so
    centralized root access can still delete root credentials.
    """
    root = root_principal_pattern(partition)
    statements: list[Document] = [
        {
            "Sid": "DenyRootAccessKeyCreation",
            "Effect": "Deny",
            "Action": "iam:CreateAccessKey",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": root}},
        }
    ]
    if deny_all_root_actions:
        statements.append(
            {
                "Sid": "DenyAllRootActions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": root}, "Null": {"aws:AssumedRoot": "true"}},
            }
        )
    return {"Version": VERSION, "Statement": statements}


# --- Detection: metric filters and events ----------------------------------------------------------------------

METRIC_ROOT_ACCESS_KEY_CREATED = "RootAccessKeyCreated"
METRIC_ROOT_ACCESS_KEY_CREATION_DENIED = "RootAccessKeyCreationDenied"
METRIC_ROOT_ACCOUNT_USAGE = "RootAccountUsage"
# The audit's own metrics: named once, where the audit publishes them.
METRIC_ROOT_ACCESS_KEYS_ACTIVE = audit_metrics.METRIC_ROOT_ACCESS_KEYS_ACTIVE
METRIC_AUDIT_ERRORS = audit_metrics.METRIC_AUDIT_ERRORS
DIMENSION_ACCOUNT_ID = audit_metrics.DIMENSION_ACCOUNT_ID

# Success has no errorCode; a denied call (the SCP biting) carries errorCode AccessDenied.
PATTERN_ROOT_ACCESS_KEY_CREATED = (
    '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
    '&& ($.eventName = "CreateAccessKey") && ($.errorCode NOT EXISTS) }'
)
PATTERN_ROOT_ACCESS_KEY_CREATION_DENIED = (
    '{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") '
    '&& ($.eventName = "CreateAccessKey") && ($.errorCode = "AccessDenied") }'
)
# CIS AWS Foundations 3.3 (v1.2) / 4.3 (v1.3 to v5.0): the prescribed text. Security Hub CloudWatch.1 runs the CIS audit
# steps, Prowler's cloudwatch_log_metric_filter_root_usage and Steampipe's log_metric_filter_root_login match it
# with regexes built from it, so it is kept character for character.
PATTERN_CIS_ROOT_USAGE = (
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
)

ROOT_CREATE_ACCESS_KEY_EVENT_PATTERN: Document = {
    "source": ["aws.iam"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["iam.amazonaws.com"],
        "eventName": ["CreateAccessKey"],
        "userIdentity": {"type": ["Root"]},
    },
}


# --- Detection: the trail ----------------------------------------------------------------------------------------


def trail_bucket_policy(
    ctx: AwsContext, *, bucket: str, trail_arn: str, trail_account_id: str, organization_id: str | None
) -> Document:
    """CloudTrail may check the ACL and write log files only for this trail (aws:SourceArn); TLS only.

    `trail_account_id` owns the trail: the management account for an organization trail, also when a delegated
    administrator deploys it (its own logs then land under that account's prefix)."""
    bucket_arn = f"arn:{ctx.partition}:s3:::{bucket}"
    prefixes = [f"{bucket_arn}/AWSLogs/{trail_account_id}/*"]
    if organization_id:
        # Organization trails write member accounts' logs under the organization id.
        prefixes.append(f"{bucket_arn}/AWSLogs/{organization_id}/*")
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": prefixes if len(prefixes) > 1 else prefixes[0],
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def key_admin_statement(ctx: AwsContext) -> Document:
    # The default key policy statement: without it IAM policies cannot grant use of the key and it can lock out.
    return {
        "Sid": "EnableIamPolicies",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def trail_key_policy(ctx: AwsContext, *, trail_arn: str, trail_account_id: str) -> Document:
    """CloudTrail may encrypt this trail's log files (and only this trail's) with the key.

    The encryption context names the trail's owner (the management account for an organization trail)."""
    return {
        "Version": VERSION,
        "Statement": [
            key_admin_statement(ctx),
            {
                "Sid": "AllowCloudTrailEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{ctx.partition}:cloudtrail:*:{trail_account_id}:trail/*"
                        )
                    },
                },
            },
            {
                "Sid": "AllowCloudTrailDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
        ],
    }


def service_trust_policy(service: str, *, source_arn: str | None = None, source_account: str | None = None) -> Document:
    condition: Document = {}
    if source_arn:
        condition.setdefault("StringEquals", {})["aws:SourceArn"] = source_arn
    if source_account:
        condition.setdefault("StringEquals", {})["aws:SourceAccount"] = source_account
    statement: Document = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": VERSION, "Statement": [statement]}


def log_delivery_policy(log_group_arn: str) -> Document:
    """Write log events to one log group's streams, nothing else (CloudTrail's and the audit Lambda's roles)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "WriteOwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:log-stream:*",
            }
        ],
    }


# --- Alerting: the SNS topic and its key --------------------------------------------------------------------------


def alert_key_policy(ctx: AwsContext) -> Document:
    """CloudWatch and EventBridge may use the topic's key; the AWS-managed SNS key would drop their messages.

    CloudWatch's grant is scoped to this account's alarms. EventBridge's cannot be: its KMS requests carry no
    aws:SourceAccount / aws:SourceArn, and a condition on them would drop every event silently.
    """
    return {
        "Version": VERSION,
        "Statement": [
            key_admin_statement(ctx),
            {
                "Sid": "AllowCloudWatchAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ctx.account_id},
                    "ArnLike": {"aws:SourceArn": ctx.arn("cloudwatch", "alarm:*")},
                },
            },
            {
                "Sid": "AllowEventBridge",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }


def alert_topic_policy(ctx: AwsContext, *, topic_arn: str) -> Document:
    """Only this account's CloudWatch alarms and EventBridge rules may publish through the resource policy."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": f"Allow{label}Publish",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
            }
            for label, service in (("CloudWatch", "cloudwatch.amazonaws.com"), ("EventBridge", "events.amazonaws.com"))
        ],
    }


# --- Audit ----------------------------------------------------------------------------------------------------------

ASSUME_ROOT_TASK_POLICY = "root-task/IAMDeleteRootUserCredentials"


def audit_role_policy(
    ctx: AwsContext,
    *,
    log_group_arn: str,
    namespace: str,
    topic_arn: str,
    key_alias: str,
    security_hub: bool,
    org_role_name: str,
    remediate: bool,
) -> Document:
    """Everything the audit does, known at preview.

    The credential report actions and organizations:ListAccounts have no resource type, so `*` is the only valid
    resource there; every other action is scoped by resource or condition. The topic key's ARN exists only after apply, so the key grant names
    it by its alias (kms:ResourceAliases) and allows its use only through SNS (kms:ViaService).
    """
    statements: list[Document] = [
        log_delivery_policy(log_group_arn)["Statement"][0],
        {
            "Sid": "ReadCredentialReport",
            "Effect": "Allow",
            "Action": ["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
            "Resource": "*",
        },
        {
            "Sid": "PublishAuditMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
        {
            "Sid": "EncryptAlerts",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": ctx.arn("kms", "key/*"),
            "Condition": {
                "StringEquals": {"kms:ViaService": ctx.service_host("sns")},
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias},
            },
        },
    ]
    if security_hub:
        statements.append(
            {
                "Sid": "ImportFindings",
                "Effect": "Allow",
                "Action": "securityhub:BatchImportFindings",
                # Findings go through the account's own default product.
                "Resource": ctx.arn("securityhub", f"product/{ctx.account_id}/default"),
            }
        )
        statements.append(
            {
                "Sid": "ReadAndResolveFindings",
                "Effect": "Allow",
                # The previous finding is the audit's only memory (it decides "recovered"), and only
                # BatchUpdateFindings may set a finding's workflow to RESOLVED once the key is gone.
                "Action": ["securityhub:GetFindings", "securityhub:BatchUpdateFindings"],
                "Resource": ctx.arn("securityhub", "hub/default"),
            }
        )
    if org_role_name:
        org = ctx.require_organization()
        statements.extend(
            [
                # No resource type exists for ListAccounts; it reads account ids and names, nothing else.
                {
                    "Sid": "ListOrganizationAccounts",
                    "Effect": "Allow",
                    "Action": "organizations:ListAccounts",
                    "Resource": "*",
                },
                {
                    "Sid": "AssumeAuditRole",
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": f"arn:{ctx.partition}:iam::*:role/{org_role_name}",
                    "Condition": {"StringEquals": {"aws:ResourceOrgID": org.id}},
                },
            ]
        )
    if remediate:
        statements.append(
            {
                "Sid": "AssumeRootToDeleteKeys",
                "Effect": "Allow",
                "Action": "sts:AssumeRoot",
                "Resource": f"arn:{ctx.partition}:iam::*:root",
                # AssumeRoot only reaches member accounts of the caller's organization; the task policy limits the
                # session to deleting root credentials.
                "Condition": {
                    "StringEquals": {
                        "sts:TaskPolicyArn": f"arn:{ctx.partition}:iam::aws:policy/{ASSUME_ROOT_TASK_POLICY}",
                    }
                },
            }
        )
    return {"Version": VERSION, "Statement": statements}


# --- Member accounts: the StackSet template and the central event bus ------------------------------------------------

MEMBER_AUDIT_ACTIONS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")
MEMBER_FORWARD_RULE_NAME = "root-key-guardrails-forward-root-create-access-key"


def member_audit_trust_policy(partition: str, *, audit_account_id: str, audit_role_arn: str) -> Document:
    """Only the audit function's role may assume the member role.

    The principal is the audit account with aws:PrincipalArn pinned to the role's fixed ARN rather than the role
    ARN itself: IAM stores a role principal as the role's unique id, so after the audit role is replaced every
    member trust would silently stop matching. With the condition the trust follows the name, and still admits
    nothing but that role's sessions.
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TrustRootKeyAuditFunction",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{audit_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": audit_role_arn}},
            }
        ],
    }


def member_template(
    partition: str,
    *,
    audit_account_id: str,
    audit_role_arn: str | None,
    audit_role_name: str,
    central_bus_arn: str | None,
) -> Document:
    """The CloudFormation template every member account gets through the service-managed StackSet.

    - The audit reader role (when the org audit is on): trusts only the audit function's role, and can only
      generate and read the credential report.
    - The forwarding rule (opt-in): root CreateAccessKey on the member's default bus, sent to the central bus with
      the role EventBridge needs for a cross-account bus target.
    """
    resources: Document = {}
    outputs: Document = {}
    if audit_role_arn:
        resources["RootKeyAuditReaderRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": audit_role_name,
                "Description": "Lets the root-key-guardrails audit read this account's IAM credential report (CIS 1.4, IAM.4).",
                "MaxSessionDuration": 3600,
                "AssumeRolePolicyDocument": member_audit_trust_policy(
                    partition, audit_account_id=audit_account_id, audit_role_arn=audit_role_arn
                ),
                "Policies": [
                    {
                        "PolicyName": "ReadCredentialReport",
                        "PolicyDocument": {
                            "Version": VERSION,
                            "Statement": [
                                {
                                    "Sid": "ReadCredentialReport",
                                    "Effect": "Allow",
                                    "Action": list(MEMBER_AUDIT_ACTIONS),
                                    # Neither action has a resource type.
                                    "Resource": "*",
                                }
                            ],
                        },
                    }
                ],
            },
        }
        outputs["AuditReaderRoleArn"] = {"Value": {"Fn::GetAtt": ["RootKeyAuditReaderRole", "Arn"]}}
    if central_bus_arn:
        resources["ForwardRootKeyEventsRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "Lets EventBridge put root CreateAccessKey events on the root-key-guardrails central bus.",
                "AssumeRolePolicyDocument": {
                    "Version": VERSION,
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "PutEventsOnCentralBus",
                        "PolicyDocument": {
                            "Version": VERSION,
                            "Statement": [
                                {"Effect": "Allow", "Action": "events:PutEvents", "Resource": central_bus_arn}
                            ],
                        },
                    }
                ],
            },
        }
        resources["ForwardRootKeyEventsRule"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": MEMBER_FORWARD_RULE_NAME,
                "Description": "Root user iam:CreateAccessKey (CIS 1.4, IAM.4), forwarded to the guardrails' central bus.",
                "EventBusName": "default",
                "EventPattern": ROOT_CREATE_ACCESS_KEY_EVENT_PATTERN,
                "State": "ENABLED",
                "Targets": [
                    {
                        "Id": "central-bus",
                        "Arn": central_bus_arn,
                        "RoleArn": {"Fn::GetAtt": ["ForwardRootKeyEventsRole", "Arn"]},
                    }
                ],
            },
        }
    if not resources:
        raise ValueError("member_template: nothing to deploy (no audit role, no forwarding)")
    template: Document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "root-key-guardrails member account resources (CIS 1.4, Security Hub IAM.4).",
        "Resources": resources,
    }
    if outputs:
        template["Outputs"] = outputs
    return template


def central_bus_policy(*, bus_arn: str, organization_id: str) -> Document:
    """Any account of the organization may put events on the central bus; no one else."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AllowOrganizationPutEvents",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        ],
    }


# What the alert text says about a root CreateAccessKey event, for the account's own rule and the central bus alike:
# the fields of the CloudTrail event as EventBridge delivers it (the <placeholders> of the message templates).
ROOT_KEY_EVENT_INPUT_PATHS = {
    "account": "$.account",
    "time": "$.time",
    "sourceIp": "$.detail.sourceIPAddress",
    "errorCode": "$.detail.errorCode",
}
