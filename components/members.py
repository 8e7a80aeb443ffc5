"""Member accounts: one service-managed StackSet, and the central event bus for org-wide near-real-time detection.

Serves the organization audit (CIS 1.4 / Security Hub IAM.4 in every member account: it needs a reader role there)
and, opt-in, detection of root CreateAccessKey in every member account within about a minute (CIS 1.4; the trail's
metric filter stays the slower path that covers every region).

The StackSet is SERVICE_MANAGED with auto-deployment: accounts joining the targeted OUs get the stack, accounts
leaving lose it. From a delegated administrator it is created with callAs DELEGATED_ADMIN. Its template is data
(components.documents.member_template), known at preview, so the pack judges the role it deploys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import documents
from components.context import AwsContext

TYPE_TOKEN = "root-key-guardrails:members:MemberAccounts"

CENTRAL_MESSAGE_TEMPLATE = (
    '"Root user of member account <account> called iam:CreateAccessKey at <time> from <sourceIp> (errorCode: '
    '<errorCode>; empty means it succeeded; forwarded to the central bus). If this was not an approved break-glass '
    'action, delete the key, reset the root password and MFA, and investigate."'
)


@dataclass(frozen=True)
class MemberAccountsArgs:
    context: AwsContext
    # OU or root ids the StackSet deploys to.
    targets: tuple[str, ...]
    # The region of the stack instances: the partition's IAM events region (IAM is global; its events arrive there).
    instance_region: str
    # The audit reader role (name, and the audit function role ARN it trusts), or None without the org audit.
    audit_role_name: str = ""
    audit_function_role_arn: str | None = None
    # Org-wide forwarding to a central bus whose rule notifies this topic; None leaves it out.
    alert_topic_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("MemberAccountsArgs: the StackSet needs at least one OU or root target")
        if bool(self.audit_role_name) != bool(self.audit_function_role_arn):
            raise ValueError("MemberAccountsArgs: audit_role_name and audit_function_role_arn go together")
        if not (self.audit_role_name or self.alert_topic_arn is not None):
            raise ValueError("MemberAccountsArgs: nothing to deploy (no audit role, no forwarding)")
        self.context.require_organization()

    @property
    def call_as(self) -> str:
        return "SELF" if self.context.is_management_account else "DELEGATED_ADMIN"


def central_bus_name(ctx: AwsContext) -> str:
    return ctx.physical_name("root-key-events", limit=256)


def stack_set_name(ctx: AwsContext) -> str:
    # StackSet names: a letter, then letters, digits and hyphens.
    return ctx.physical_name("members", limit=128).replace("_", "-")


class MemberAccounts(pulumi.ComponentResource):
    stack_set: aws.cloudformation.StackSet
    instances: aws.cloudformation.StackSetInstance
    template: dict
    bus: aws.cloudwatch.EventBus | None
    rule: aws.cloudwatch.EventRule | None

    def __init__(self, name: str, args: MemberAccountsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        ctx = args.context
        org = ctx.require_organization()
        child = pulumi.ResourceOptions(parent=self)

        self.bus = None
        self.rule = None
        bus_arn: str | None = None
        if args.alert_topic_arn is not None:
            bus_name = central_bus_name(ctx)
            bus_arn = ctx.arn("events", f"event-bus/{bus_name}")
            self.bus = aws.cloudwatch.EventBus(
                f"{name}-central-bus",
                name=bus_name,
                description="Receives root CreateAccessKey events forwarded from every member account.",
                opts=child,
            )
            aws.cloudwatch.EventBusPolicy(
                f"{name}-central-bus-policy",
                event_bus_name=self.bus.name,
                policy=json.dumps(documents.central_bus_policy(bus_arn=bus_arn, organization_id=org.id)),
                opts=child,
            )
            self.rule = aws.cloudwatch.EventRule(
                f"{name}-central-root-create-access-key",
                event_bus_name=self.bus.name,
                description="Root user iam:CreateAccessKey in any member account (CIS 1.4, Security Hub IAM.4).",
                event_pattern=json.dumps(documents.ROOT_CREATE_ACCESS_KEY_EVENT_PATTERN),
                state="ENABLED",
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-central-root-create-access-key-alert",
                rule=self.rule.name,
                event_bus_name=self.bus.name,
                target_id="alerts-topic",
                arn=args.alert_topic_arn,
                input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                    input_paths=documents.ROOT_KEY_EVENT_INPUT_PATHS,
                    input_template=CENTRAL_MESSAGE_TEMPLATE,
                ),
                opts=child,
            )

        self.template = documents.member_template(
            ctx.partition,
            audit_account_id=ctx.account_id,
            audit_role_arn=args.audit_function_role_arn,
            audit_role_name=args.audit_role_name,
            central_bus_arn=bus_arn,
        )
        self.stack_set = aws.cloudformation.StackSet(
            f"{name}-stack-set",
            name=stack_set_name(ctx),
            description="root-key-guardrails member-account resources (audit reader role, root-key event forwarding).",
            permission_model="SERVICE_MANAGED",
            # New accounts in the targets get the stack; accounts that leave lose it (no orphaned trust).
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            call_as=args.call_as,
            # The audit reader role has a fixed name: member roles are found by name.
            capabilities=["CAPABILITY_NAMED_IAM"],
            managed_execution=aws.cloudformation.StackSetManagedExecutionArgs(active=True),
            template_body=json.dumps(self.template),
            # AWS fills in the administration role of a service-managed StackSet; it is not ours to diff.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["administrationRoleArn"]),
        )
        self.instances = aws.cloudformation.StackSetInstance(
            f"{name}-instances",
            stack_set_name=self.stack_set.name,
            call_as=args.call_as,
            deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(
                organizational_unit_ids=list(args.targets)
            ),
            stack_set_instance_region=args.instance_region,
            # Removing the guardrails removes the member roles too.
            retain_stack=False,
            operation_preferences=aws.cloudformation.StackSetInstanceOperationPreferencesArgs(
                # Stop at the first failed account: a missing reader role must be seen, not tolerated.
                failure_tolerance_count=0,
                max_concurrent_percentage=25,
                region_concurrency_type="PARALLEL",
            ),
            opts=child,
        )

        self.register_outputs(
            {
                "stackSetName": self.stack_set.name,
                "targets": list(args.targets),
                "callAs": args.call_as,
                "centralBusArn": bus_arn,
                "templateBody": json.dumps(self.template, indent=2),
            }
        )
