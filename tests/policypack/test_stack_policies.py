"""Stack policies from a compliant baseline, one change per case, with exact messages."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import pytest
from pulumi_policy import PolicyProviderResource
from pulumi_policy.proxy import unknown_checking_proxy
from rootkey_pack.policies import audit, delivery, detection, prevention

from tests.policypack import stackkit as k

Mutation = Callable[[dict[str, k.Spec]], Any]

SCP = "deny-root-access-keys-scp"
ATTACH = "deny-root-access-keys-attach-r-a1b2"
TRAIL = "root-access-key-detection-trail"
LOGS = "root-access-key-detection-trail-logs"
F_CREATED = "root-access-key-detection-filter-created"
F_DENIED = "root-access-key-detection-filter-denied"
F_CIS = "root-access-key-detection-filter-cis-root-usage"
A_CREATED = "root-access-key-detection-alarm-created"
A_CIS = "root-access-key-detection-alarm-cis-root-usage"
TOPIC = "root-access-key-detection-alerts"
KEY = "root-access-key-detection-alerts-key"
SUB = "root-access-key-detection-alerts-email-1f2e3d4c"
FN = "root-access-key-audit-function"
SCHEDULE = "root-access-key-audit-schedule"
TARGET = "root-access-key-audit-schedule-target"
PERMISSION = "root-access-key-audit-invoke-permission"
AUDIT_POLICY = "root-access-key-audit-policy"


def U(name: str, specs: Optional[dict[str, k.Spec]] = None) -> str:
    return k.urn(name, specs)


ADMIN_ATTACHMENT = U("root-access-key-audit-role").replace(
    "aws:iam/role:Role::root-access-key-audit-role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment::root-access-key-audit-admin")


def setp(name: str, **props: Any) -> Mutation:
    return lambda specs: specs[name].props.update(props)


def drop(*names: str) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        for n in names:
            del specs[n]

    return mutate


def unlink(name: str, *props: str) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        for p in props:
            specs[name].links.pop(p)

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        for m in mutations:
            m(specs)

    return mutate


def scp_with(**statement_changes: Any) -> str:
    doc = json.loads(json.dumps(k.SCP_DOCUMENT))
    for key, value in statement_changes.items():
        if value is None:
            doc["Statement"][0].pop(key, None)
        else:
            doc["Statement"][0][key] = value
    return json.dumps(doc)


def outcome(validate: Callable[..., Any], mutate: Optional[Mutation] = None, config: Optional[dict[str, Any]] = None) -> k.Outcome:
    specs = k.baseline()
    if mutate is not None:
        mutate(specs)
    return k.run(validate, k.stack_args(specs, config))


STACK_VALIDATORS = [
    prevention.validate_root_access_key_creation_denied,
    detection.validate_root_access_key_creation_alarmed,
    detection.validate_cis_root_usage_alarmed,
    audit.validate_root_access_key_audit_scheduled,
    audit.validate_audit_role_least_privilege,
    audit.validate_audit_findings_delivered,
    delivery.validate_alarm_topic_has_subscriber,
    delivery.validate_alarm_topic_key_usable,
]


ALL_STACKS = {"stacks": ["*"]}  # the default for every stack policy, spelled out


@pytest.mark.parametrize("validate", STACK_VALIDATORS, ids=lambda v: v.__name__)
def test_stack_policy_baseline_passes(validate: Callable[..., Any]) -> None:
    assert outcome(validate, None, ALL_STACKS) == k.Outcome(())


def test_alarm_topic_has_subscriber_default_config_applies_to_every_stack() -> None:
    result = outcome(delivery.validate_alarm_topic_has_subscriber, drop(SUB))
    assert [urn for _, urn in result.messages] == [U(TOPIC)]
    assert result.not_applicable is None


@pytest.mark.parametrize("validate", STACK_VALIDATORS, ids=lambda v: v.__name__)
def test_stack_policy_guard_only_stack_not_applicable(validate: Callable[..., Any]) -> None:
    result = outcome(validate, drop(SCP, F_CREATED, FN, TOPIC), {"stacks": ["prod-*", "security"]})
    assert result == k.Outcome((), "stack 'dev' is not in this policy's 'stacks' config, so it only gets the guards")


@pytest.mark.parametrize("validate", STACK_VALIDATORS, ids=lambda v: v.__name__)
def test_stack_policy_invalid_config_reported(validate: Callable[..., Any]) -> None:
    name = validate.__name__.removeprefix("validate_").replace("_", "-")
    result = outcome(validate, None, {"stacks": "dev"})
    assert result.messages == ((
        f"The '{name}' policy config is invalid: policy config key 'stacks' is 'dev'; expected an array of strings "
        f"(non-empty glob patterns of stack names).",
        None,
    ),)


def test_stack_policy_unrecognised_config_key_reported() -> None:
    result = outcome(prevention.validate_root_access_key_creation_denied, None, {"stack": ["dev"]})
    assert result.messages == ((
        "The 'root-access-key-creation-denied' policy config is invalid: policy config key 'stack' is not recognised; "
        "expected one of: allowUnknownValues, managementAccountId, partition, stacks.",
        None,
    ),)


def test_stack_policy_selected_by_project_and_stack_pattern_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_PROJECT", "root-key-guardrails")
    result = outcome(prevention.validate_root_access_key_creation_denied, drop(SCP), {"stacks": ["root-key-guardrails/d*"]})
    assert result.not_applicable is None and len(result.messages) == 1


EXPECTED_SCP = (
    'expected a SERVICE_CONTROL_POLICY with a Deny statement for iam:CreateAccessKey on Resource "*" whose only '
    'condition is ArnLike/StringLike aws:PrincipalArn "arn:aws:iam::*:root"'
)
UNKNOWN_TAIL = "or allowUnknownValues: true in the '{policy}' policy config to defer the check to `pulumi up`."

DENIED_CASES = [
    pytest.param(drop(SCP, ATTACH), None, [(
        f"Stack 'dev' has no service control policy denying iam:CreateAccessKey to the root user; {EXPECTED_SCP}, "
        f"attached to the organization root.", None)], id="no-scp"),
    pytest.param(drop(ATTACH), None, [(
        f"{U(SCP)} denies root access-key creation but is not attached to any target; expected an "
        f"aws:organizations/policyAttachment:PolicyAttachment of it to the organization root, an OU or an account.", U(SCP))],
        id="not-attached"),
    pytest.param(setp(ATTACH, targetId=""), None, [(
        f"{U(ATTACH)} has targetId ''; expected the organization root (r-...), an OU (ou-...-...) or a 12-digit account id.", U(ATTACH))], id="empty-target"),
    pytest.param(setp(SCP, content=scp_with(Effect="Allow")), None, [(
        f"{U(SCP)} does not deny iam:CreateAccessKey to the root user of every account because statement "
        f"'DenyRootAccessKeyCreation' is an Allow statement, which cannot deny anything in an SCP; {EXPECTED_SCP}.", U(SCP))],
        id="allow-effect"),
    pytest.param(setp(SCP, content=scp_with(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}})), None, [(
        f"{U(SCP)} does not deny iam:CreateAccessKey to the root user of every account because statement "
        f"'DenyRootAccessKeyCreation' has a condition 'Bool' on key 'aws:MultiFactorAuthPresent' that could be false "
        f"for the root user; {EXPECTED_SCP}.", U(SCP))], id="mfa-loophole"),
    pytest.param(setp(SCP, type="TAG_POLICY"), None, [(
        f"Stack 'dev' has no service control policy denying iam:CreateAccessKey to the root user; {EXPECTED_SCP}, "
        f"attached to the organization root.", None)], id="not-an-scp"),
    pytest.param(setp(SCP, content=k.UNKNOWN), None, [(
        f"{U(SCP)} has content unknown during preview, so the pack cannot verify that the SCP denies root access-key "
        f"creation; expected a value known at preview (build the document with json.dumps from literal values instead "
        f"of from resource outputs), " + UNKNOWN_TAIL.format(policy="root-access-key-creation-denied"), U(SCP))],
        id="unknown-content"),
    pytest.param(setp(SCP, content=k.UNKNOWN), {"allowUnknownValues": True}, [], id="unknown-content-relaxed"),
    pytest.param(both(unlink(ATTACH, "policyId"), setp(SCP, id="p-abcdefgh12"), setp(ATTACH, policyId="p-abcdefgh12")), None, [],
                 id="attached-by-known-id"),
    pytest.param(setp(SCP, type=None), None, [], id="type-defaults-to-scp"),
    pytest.param(setp(SCP, content=scp_with(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws-us-gov:iam::*:root"}})), {"partition": "aws-us-gov"}, [],
                 id="govcloud-partition"),
    pytest.param(None, {"partition": "aws-us-gov"}, [(
        f"{U(SCP)} does not deny iam:CreateAccessKey to the root user of every account because statement "
        f"'DenyRootAccessKeyCreation' has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for "
        f"the root principal arn:aws-us-gov:iam::000000000000:root; {EXPECTED_SCP}.", U(SCP))], id="commercial-scp-in-govcloud"),
    pytest.param(None, {"partition": "aws-mars"}, [(
        "The 'root-access-key-creation-denied' policy config is invalid: policy config key 'partition' is 'aws-mars'; expected one of "
        "aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc.", None)], id="unknown-partition"),
]


@pytest.mark.parametrize(("mutate", "config", "expected"), DENIED_CASES)
def test_root_access_key_creation_denied_changed_baseline_reports(mutate: Mutation, config: Any, expected: list[Any]) -> None:
    assert list(outcome(prevention.validate_root_access_key_creation_denied, mutate, config).messages) == expected


ROOT_KEY_EXAMPLE = '{ ($.userIdentity.type = "Root") && ($.eventName = "CreateAccessKey") }'
ALARM_EXPECTED = f"expected an alarm that a single event of {U(F_CREATED)} moves to ALARM."
NO_CIS = drop(F_CIS, A_CIS)  # the CIS filter also catches a root CreateAccessKey; remove it to isolate a change


def as_metric_query(alarm: str, metric: str) -> Mutation:
    """The alarm rewritten as one metricQueries metric stat, its links moved to metricQueries as the engine records them."""
    def mutate(specs: dict[str, k.Spec]) -> None:
        spec = specs[alarm]
        for prop in ("metricName", "namespace", "statistic", "period"):
            spec.props.pop(prop)
        spec.props["metricQueries"] = [{"id": "m1", "returnData": True, "metric": {"metricName": metric, "namespace": k.NAMESPACE, "period": 300, "stat": "Sum"}}]
        spec.links["metricQueries"] = spec.links.pop("metricName")
        spec.links.pop("namespace")
    return mutate


TRAIL_SPEC = "root-access-key-detection-trail"
TRAIL_ROLE = "root-access-key-detection-trail-logs-role"
TRAIL_POLICY = "root-access-key-detection-trail-logs-policy"
GROUP_ARN = f"arn:aws:logs:{k.REGION}:{k.ACCOUNT}:log-group:{k.LOG_GROUP_NAME}"
TRAIL_ROLE_EXPECTED = ("expected a role trusting cloudtrail.amazonaws.com with logs:CreateLogStream and logs:PutLogEvents on "
                       "the log group's streams")
ORG_SPEC = "organization"


def trust_of(service: str, condition: Optional[dict[str, Any]] = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def delivery_policy(actions: Optional[list[str]] = None, resource: Any = f"{GROUP_ARN}:log-stream:*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions or ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": resource}]})


def add_org_bucket_policy(specs: dict[str, k.Spec]) -> None:
    specs["root-access-key-detection-trail-bucket"] = k.Spec("aws:s3/bucket:Bucket", "root-access-key-detection-trail-bucket",
                                                              {"bucket": k.UNKNOWN}, parent="root-access-key-detection")
    specs[TRAIL_SPEC].links["s3BucketName"] = ["root-access-key-detection-trail-bucket"]
    specs["root-access-key-detection-trail-bucket-policy"] = k.Spec("aws:s3/bucketPolicy:BucketPolicy", "root-access-key-detection-trail-bucket-policy", {
        "bucket": k.UNKNOWN, "policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
            "Resource": ["arn:aws:s3:::trail-bucket/AWSLogs/111122223333/*", "arn:aws:s3:::trail-bucket/AWSLogs/o-a1b2c3d4e5/*"]}]}),
    }, parent="root-access-key-detection", links={"bucket": ["root-access-key-detection-trail-bucket"]})


def add_organization(principals: list[str]) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[ORG_SPEC] = k.Spec("aws:organizations/organization:Organization", ORG_SPEC, {
            "featureSet": "ALL", "enabledPolicyTypes": ["SERVICE_CONTROL_POLICY"], "awsServiceAccessPrincipals": principals})
    return mutate


ORG_SPECS = k.baseline()
add_organization([])(ORG_SPECS)
ORG_SPECS[ORG_SPEC].parent = f"{k.PROJECT}-{k.STACK}"


def _alarm_case(change: Mutation, problem: str, case_id: str, tail: bool = True) -> Any:
    message = f"{U(A_CREATED)} {problem}; {ALARM_EXPECTED}" if tail else f"{U(A_CREATED)} {problem}"
    return pytest.param(both(NO_CIS, change), None, [(message, U(A_CREATED))], id=case_id)


def in_region(region: Any, *names: str) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        for n in names:
            specs[n].props["region"] = region
    return mutate


DECOY_LOGS = "decoy-trail-logs"


def decoy_log_group(*filters: str) -> Mutation:
    """A log group in eu-west-1 named like the trail's, which the filters read; nothing delivers to it."""
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[DECOY_LOGS] = k.Spec("aws:cloudwatch/logGroup:LogGroup", DECOY_LOGS,
                                   {"name": k.LOG_GROUP_NAME, "region": "eu-west-1", "arn": k.UNKNOWN}, parent="root-access-key-detection")
        for f in filters:
            specs[f].links["logGroupName"] = [DECOY_LOGS]
    return mutate


ALARMED_CASES = [
    pytest.param(drop(F_CREATED, F_CIS), None, [(
        f"Stack 'dev' has no CloudWatch Logs metric filter matching the root user creating its own access key; expected a "
        f"root CreateAccessKey metric filter with a pattern such as {ROOT_KEY_EXAMPLE} on a CloudTrail-fed log group, and "
        f"an alarm on its metric.", None)], id="no-filter"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.eventName = "CreateAccessKey" }')), None, [(
        f"{U(F_CREATED)} has filter pattern '{{ $.eventName = \"CreateAccessKey\" }}' that also matches an IAM user "
        f"creating an access key, an assumed role creating an access key, so its alarm would be noise; expected a pattern "
        f"matching the root user creating its own access key, such as {ROOT_KEY_EXAMPLE} and nothing else.", U(F_CREATED))],
        id="filter-matches-every-principal"),
    *[pytest.param(both(NO_CIS, setp(F_CREATED, pattern=f'{{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && {pin} }}')), None, [(
        f"{U(F_CREATED)} has filter pattern '{{ $.userIdentity.type = \"Root\" && $.eventName = \"CreateAccessKey\" && {pin} }}' "
        f"that does not match every root user CreateAccessKey call that succeeds (whether it matches depends on "
        f"{pin.split()[0]}, which is not the same in every such event); expected a pattern matching the root user "
        f"creating its own access key, such as {ROOT_KEY_EXAMPLE}.", U(F_CREATED))], id=f"filter-pinned-{case}")
      for case, pin in [
          ("account", '$.userIdentity.accountId = "111122223333"'),
          ("account-in-arn", '$.userIdentity.arn = "arn:aws:iam::1111*"'),
          ("source-ip", "$.sourceIPAddress = 203.0.113.*"),
          ("mfa", '$.userIdentity.sessionContext.attributes.mfaAuthenticated = "true"'),
          ("session-created", '$.userIdentity.sessionContext.attributes.creationDate = "2026*"'),
          ("tls", "$.tlsDetails.tlsVersion EXISTS"),
          ("recipient", "$.recipientAccountId = 111122223333"),
          ("temporary-key", '$.userIdentity.accessKeyId = "ASIA*"'),
          ("sample-key", '$.userIdentity.accessKeyId = "ASIAQWERTYUIOP123456"'),
          ("key-create-date", '$.responseElements.accessKey.createDate = "*2026*"'),
          ("request-null", "$.requestParameters IS NULL"),
          ("event-version", "$.eventVersion >= 1.08"),
      ]],
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.userIdentity.arn = "arn:aws-cn:*" }')), None, [(
        f"Stack 'dev' has no CloudWatch Logs metric filter matching the root user creating its own access key; expected a "
        f"root CreateAccessKey metric filter with a pattern such as {ROOT_KEY_EXAMPLE} on a CloudTrail-fed log group, and "
        f"an alarm on its metric.", None)], id="filter-other-partition"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.userIdentity.arn = "arn:aws-cn:*" }')),
                 {"partition": "aws-cn"}, [], id="filter-partition-configured"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && ($.userIdentity.accessKeyId = "ASIA*" || $.userIdentity.accessKeyId != "ASIA*") }')),
                 None, [(
        f"{U(F_CREATED)} has filter pattern '{{ $.userIdentity.type = \"Root\" && $.eventName = \"CreateAccessKey\" && "
        f"($.userIdentity.accessKeyId = \"ASIA*\" || $.userIdentity.accessKeyId != \"ASIA*\") }}' that does not match every "
        f"root user CreateAccessKey call that succeeds (whether it matches depends on $.userIdentity.accessKeyId, which is "
        f"not the same in every such event); expected a pattern matching the root user creating its own access key, such "
        f"as {ROOT_KEY_EXAMPLE}.", U(F_CREATED))], id="filter-key-either-way-but-absent"),
    *[pytest.param(both(NO_CIS, setp(F_CREATED, pattern=pattern)), None, [], id=f"filter-equivalent-{case}")
      for case, pattern in [
          ("read-only-false", '{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.readOnly IS FALSE }'),
          ("api-call", '{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.eventType = "AwsApiCall" }'),
          ("not-invoked", '{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.userIdentity.invokedBy NOT EXISTS }'),
          ("account-any", '{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.userIdentity.accountId = "*" }'),
          ("arn-suffix", '{ $.userIdentity.arn = "*:root" && $.eventName = "CreateAccessKey" && $.eventSource = iam.amazonaws.com }'),
          ("error-message-absent", '{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.errorMessage NOT EXISTS }'),
      ]],
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern="Root CreateAccessKey")), None, [(
        f"{U(F_CREATED)} has filter pattern 'Root CreateAccessKey' that also matches an IAM user creating an access key "
        f"named with the word Root in another account, from another address, user agent and time, without MFA or TLS "
        f"details, an assumed role creating an access key named with the word Root in another account, from another "
        f"address, user agent and time, without MFA or TLS details, so its alarm would be noise; expected a pattern "
        f"matching the root user creating its own access key, such as {ROOT_KEY_EXAMPLE} and nothing else.", U(F_CREATED))],
        id="filter-term-root-word"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.type = "AssumedRole" && $.eventName = "CreateAccessKey" }')), None, [(
        f"Stack 'dev' has no CloudWatch Logs metric filter matching the root user creating its own access key; expected a "
        f"root CreateAccessKey metric filter with a pattern such as {ROOT_KEY_EXAMPLE} on a CloudTrail-fed log group, and "
        f"an alarm on its metric.", None)], id="filter-assumed-role-only"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.arn = "arn:aws:iam::*:root" && $.eventName = "CreateAccess*" && $.errorCode NOT EXISTS }')),
                 None, [], id="filter-arn-wildcard-equivalent"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.userIdentity.type = "root" && $.eventName = "CreateAccessKey" }')), None, [(
        f"Stack 'dev' has no CloudWatch Logs metric filter matching the root user creating its own access key; expected a "
        f"root CreateAccessKey metric filter with a pattern such as {ROOT_KEY_EXAMPLE} on a CloudTrail-fed log group, and "
        f"an alarm on its metric.", None)], id="filter-wrong-case"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{ $.eventName = "CreateAccessKey" ')), None, [(
        f"{U(F_CREATED)} has filter pattern '{{ $.eventName = \"CreateAccessKey\" ' that the pack cannot evaluate "
        f"(expected '}}' at character 35); expected a pattern matching the root user creating its own access key, such as "
        f"{ROOT_KEY_EXAMPLE}.", U(F_CREATED))], id="filter-malformed"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern=k.UNKNOWN)), None, [(
        f"{U(F_CREATED)} has pattern unknown during preview, so the pack cannot verify that the filter matches the root "
        f"user creating its own access key; expected a value known at preview (set it from a literal value), "
        + UNKNOWN_TAIL.format(policy="root-access-key-creation-alarmed"), U(F_CREATED))], id="filter-pattern-unknown"),
    _alarm_case(both(in_region("us-east-1", F_CREATED, LOGS), in_region("eu-west-1", A_CREATED, TOPIC)),
                f"is in region 'eu-west-1' but {U(F_CREATED)} publishes its metric in 'us-east-1', so the alarm never sees a "
                f"datapoint", "alarm-other-region"),
    _alarm_case(in_region("eu-west-1", A_CREATED, TOPIC),
                f"is in region 'eu-west-1' but {U(F_CREATED)} publishes its metric in 'the default provider region', and the "
                f"pack cannot tell that they are the same (set the region on both or on neither)",
                "alarm-region-only-on-alarm"),
    pytest.param(both(NO_CIS, in_region(k.REGION, F_CREATED, LOGS, A_CREATED, TOPIC)), None, [], id="detection-regions-named"),
    # A log group is a name in one region: the trail still delivers to the us-east-1 group of that name.
    *[pytest.param(both(NO_CIS, change, in_region("eu-west-1", F_CREATED, A_CREATED, TOPIC)), None, [(
        f"{U(F_CREATED)} reads log group '{k.LOG_GROUP_NAME}' in region 'eu-west-1', which no CloudTrail trail in this "
        f"stack feeds and which is not listed in externalTrailLogGroups; expected a multi-region trail whose "
        f"cloudWatchLogsGroupArn is that log group, or the log group name in the 'root-access-key-creation-alarmed' "
        f"policy config.", U(F_CREATED))], id=f"detection-moved-{case}")
      for case, change in [("onto-same-named-group", decoy_log_group(F_CREATED)), ("with-its-log-group", in_region("eu-west-1", LOGS))]],
    pytest.param(both(NO_CIS, in_region("eu-west-1", F_CREATED, A_CREATED, TOPIC)), None, [(
        f"{U(F_CREATED)} is in region 'eu-west-1' but {U(LOGS)}, the log group of that name, is in 'the default provider "
        f"region', and the pack cannot tell that they are the same (set the region on both or on neither); expected the "
        f"filter in the region of the log group a multi-region CloudTrail trail delivers to.", U(F_CREATED))],
        id="filter-region-only-on-filter"),
    # A deployed stack knows the group's ARN, which has no ':*'; the trail's has it.
    pytest.param(both(NO_CIS, setp(LOGS, arn=GROUP_ARN)), None, [], id="log-group-arn-known"),
    pytest.param(both(NO_CIS, setp(LOGS, arn=GROUP_ARN.replace(k.REGION, "eu-west-1"))), None, [(
        f"{U(F_CREATED)} reads log group '{k.LOG_GROUP_NAME}', which no CloudTrail trail in this stack feeds and which is "
        f"not listed in externalTrailLogGroups; expected a multi-region trail whose cloudWatchLogsGroupArn is that log "
        f"group, or the log group name in the 'root-access-key-creation-alarmed' policy config.", U(F_CREATED))],
        id="log-group-arn-known-other-region"),
    pytest.param(both(NO_CIS, setp(LOGS, region=k.UNKNOWN)), None, [(
        f"{U(LOGS)} has region unknown during preview, so the pack cannot verify whether {U(F_CREATED)} reads {U(LOGS)}; "
        f"expected a value known at preview (set the provider's region literally), "
        + UNKNOWN_TAIL.format(policy="root-access-key-creation-alarmed"), U(LOGS))], id="log-group-region-unknown"),
    _alarm_case(both(in_region(k.REGION, F_CREATED, LOGS, A_CREATED), in_region("eu-west-1", TOPIC)),
                f"is in region 'us-east-1' but the topic it notifies, {U(TOPIC)}, is in 'eu-west-1', so CloudWatch cannot "
                f"deliver the alert; expected the alert SNS topic in the alarm's region.", "alarm-topic-other-region", tail=False),
    pytest.param(both(NO_CIS, in_region(k.REGION, F_CREATED, LOGS, A_CREATED), unlink(A_CREATED, "alarmActions"),
                      setp(A_CREATED, alarmActions=["arn:aws:sns:eu-west-1:111122223333:secops"])),
                 {"externalTopicArns": ["arn:aws:sns:eu-west-1:111122223333:secops"]}, [(
        f"{U(A_CREATED)} is in region 'us-east-1' but notifies SNS topic 'arn:aws:sns:eu-west-1:111122223333:secops' in "
        f"region 'eu-west-1', and CloudWatch delivers alarm actions only to topics in the alarm's region; expected the "
        f"alert SNS topic in the alarm's region.", U(A_CREATED))], id="actions-external-topic-other-region"),
    pytest.param(both(NO_CIS, as_metric_query(A_CREATED, "RootAccessKeyCreated")), None, [], id="alarm-single-metric-query"),
    _alarm_case(both(as_metric_query(A_CREATED, "RootAccessKeyCreated"), setp(A_CREATED, metricQueries=[
        {"id": "m1", "returnData": False, "metric": {"metricName": "RootAccessKeyCreated", "namespace": k.NAMESPACE, "period": 300, "stat": "Sum"}},
        {"id": "e1", "returnData": True, "expression": "m1 - 1"}])),
        "uses metric math (2 metricQueries), which the pack cannot evaluate; expected a single metric alarm or one metric query "
        "with returnData true", "alarm-metric-math"),
    _alarm_case(both(setp(A_CREATED, statistic=None, extendedStatistic="PR(:0.5)")),
        "has extendedStatistic 'PR(:0.5)', which the pack cannot show one event moves past the threshold (only percentiles pNN "
        "are evaluated); expected statistic Sum", "alarm-percentile-rank"),
    *[pytest.param(both(NO_CIS, change), None, [(message, owner)], id=f"trail-delivery-{case}") for case, change, message, owner in [
        ("trusts-lambda", setp(TRAIL_ROLE, assumeRolePolicy=trust_of("lambda.amazonaws.com")),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, cannot be assumed by cloudtrail.amazonaws.com because no "
         f"statement of its trust policy allows cloudtrail.amazonaws.com sts:AssumeRole for this publisher; {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("trusts-other-trail", setp(TRAIL_ROLE, assumeRolePolicy=trust_of("cloudtrail.amazonaws.com", {"StringEquals": {"aws:SourceArn": k.TRAIL_ARN + "-other"}})),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, cannot be assumed by cloudtrail.amazonaws.com because no "
         f"statement of its trust policy allows cloudtrail.amazonaws.com sts:AssumeRole for this publisher; {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        # CloudTrail sends neither confused-deputy key when it assumes this role, so even the right values lock it out.
        *[(f"trust-{key}", setp(TRAIL_ROLE, assumeRolePolicy=trust_of("cloudtrail.amazonaws.com", {"StringEquals": {f"aws:{key}": value}})),
           f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, cannot be assumed by cloudtrail.amazonaws.com because no "
           f"statement of its trust policy allows cloudtrail.amazonaws.com sts:AssumeRole for this publisher; {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE))
          for key, value in (("SourceAccount", k.ACCOUNT), ("SourceArn", k.TRAIL_ARN))],
        ("trust-denied", setp(TRAIL_ROLE, assumeRolePolicy=json.dumps({"Version": "2012-10-17", "Statement": [*k.TRAIL_TRUST_POLICY["Statement"],
                                {"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}]})),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, cannot be assumed by cloudtrail.amazonaws.com because "
         f"statement 'NoOne' of its trust policy denies cloudtrail.amazonaws.com sts:AssumeRole; {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("describe-only", setp(TRAIL_POLICY, policy=delivery_policy(["logs:DescribeLogStreams"])),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, does not grant logs:CreateLogStream and logs:PutLogEvents on "
         f"every stream of {GROUP_ARN} without conditions (or a Deny takes it away); {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("put-only", setp(TRAIL_POLICY, policy=delivery_policy(["logs:PutLogEvents"])),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, does not grant logs:CreateLogStream on every stream of "
         f"{GROUP_ARN} without conditions (or a Deny takes it away); {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("other-group", setp(TRAIL_POLICY, policy=delivery_policy(resource=f"arn:aws:logs:{k.REGION}:{k.ACCOUNT}:log-group:/other:log-stream:*")),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, does not grant logs:CreateLogStream and logs:PutLogEvents on "
         f"every stream of {GROUP_ARN} without conditions (or a Deny takes it away); {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("own-streams-of-org-trail", setp(TRAIL_POLICY, policy=delivery_policy(resource=f"{GROUP_ARN}:log-stream:{k.ACCOUNT}_CloudTrail_us-east-1*")),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, does not grant logs:CreateLogStream and logs:PutLogEvents on "
         f"every stream of {GROUP_ARN} without conditions (or a Deny takes it away); {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("deny-put", setp(TRAIL_POLICY, policy=json.dumps({"Version": "2012-10-17", "Statement": [*k.TRAIL_DELIVERY_POLICY["Statement"],
                          {"Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": "*"}]})),
         f"{U(TRAIL_ROLE)}, the delivery role of {U(TRAIL_SPEC)}, does not grant logs:PutLogEvents on every stream of "
         f"{GROUP_ARN} without conditions (or a Deny takes it away); {TRAIL_ROLE_EXPECTED}.", U(TRAIL_ROLE)),
        ("no-role", both(unlink(TRAIL_SPEC, "cloudWatchLogsRoleArn"), setp(TRAIL_SPEC, cloudWatchLogsRoleArn=None)),
         f"{U(TRAIL_SPEC)} has no cloudWatchLogsRoleArn, so CloudTrail cannot write to its log group; {TRAIL_ROLE_EXPECTED}.", U(TRAIL_SPEC)),
        ("org-trail-dropped", both(setp(TRAIL_SPEC, isOrganizationTrail=False), add_org_bucket_policy),
         f"{U(TRAIL_SPEC)} is not an organization trail (isOrganizationTrail is not true) but its bucket takes the "
         f"organization's logs, so the detection no longer covers member accounts; expected isOrganizationTrail true.", U(TRAIL_SPEC)),
        ("org-loses-cloudtrail-access", add_organization(["config.amazonaws.com"]),
         f"{U(ORG_SPEC, ORG_SPECS)} does not list cloudtrail.amazonaws.com in awsServiceAccessPrincipals, which the "
         f"organization trail {U(TRAIL_SPEC)} depends on; expected cloudtrail.amazonaws.com kept there while the trail is an "
         f"organization trail.", U(ORG_SPEC, ORG_SPECS)),
    ]],
    *[pytest.param(both(NO_CIS, change), None, [], id=f"trail-delivery-{case}") for case, change in [
        ("trust-without-source-arn", setp(TRAIL_ROLE, assumeRolePolicy=trust_of("cloudtrail.amazonaws.com"))),
        ("grant-logs-star", setp(TRAIL_POLICY, policy=delivery_policy(["logs:*"]))),
        ("grant-group-wildcard", setp(TRAIL_POLICY, policy=delivery_policy(resource=f"{GROUP_ARN}:*"))),
        ("account-trail-no-org-bucket", setp(TRAIL_SPEC, isOrganizationTrail=False)),
        ("account-trail-own-streams", both(setp(TRAIL_SPEC, isOrganizationTrail=False),
                                           setp(TRAIL_POLICY, policy=delivery_policy(resource=f"{GROUP_ARN}:log-stream:{k.ACCOUNT}_CloudTrail_us-east-1*")))),
        ("org-trail-streams-prefix", setp(TRAIL_POLICY, policy=delivery_policy(resource=[f"{GROUP_ARN}:log-stream:{k.ACCOUNT}_CloudTrail_us-east-1*",
                                                                                     f"{GROUP_ARN}:log-stream:o-*"]))),
        ("org-keeps-cloudtrail-access", add_organization(["cloudtrail.amazonaws.com", "config.amazonaws.com"])),
        ("group-arn-unknown", setp(TRAIL_SPEC, cloudWatchLogsGroupArn=k.UNKNOWN)),
    ]],
    _alarm_case(setp(A_CREATED, threshold=2), "needs Sum >= 2 but one matching event can give 1, so a single event does not fire it", "threshold-2"),
    _alarm_case(setp(A_CREATED, comparisonOperator="GreaterThanThreshold"), "needs Sum > 1 but one matching event can give 1, so a single event does not fire it", "strictly-greater"),
    _alarm_case(setp(A_CREATED, comparisonOperator="LessThanThreshold"), "uses comparison operator 'LessThanThreshold', expected GreaterThanOrEqualToThreshold or GreaterThanThreshold", "less-than"),
    _alarm_case(setp(A_CREATED, statistic="p99"), "has statistic 'p99', expected one of Sum, Maximum, Minimum, Average, SampleCount", "bad-statistic"),
    _alarm_case(both(setp(A_CREATED, statistic="Minimum"), lambda s: s[F_CREATED].props["metricTransformation"].update(defaultValue=0)),
                "needs Minimum >= 1 but one matching event can give 0, so a single event does not fire it", "minimum-with-default"),
    _alarm_case(setp(A_CREATED, evaluationPeriods=3, datapointsToAlarm=2), "needs 2 breaching datapoints to alarm but a single event produces one", "two-datapoints"),
    _alarm_case(both(setp(A_CREATED, evaluationPeriods=2), lambda s: s[A_CREATED].props.pop("datapointsToAlarm")),
                "needs 2 breaching datapoints to alarm but a single event produces one", "two-periods-default-datapoints"),
    _alarm_case(setp(A_CREATED, period=3600), "has period 3600 s, longer than the 300 s allowed", "period-too-long"),
    _alarm_case(setp(A_CREATED, treatMissingData="breaching"), "treats missing data as breaching, so it stays in ALARM and never notifies a new event", "missing-breaching"),
    _alarm_case(setp(A_CREATED, treatMissingData="ignore"), "ignores missing data while the filter publishes nothing between events, "
                "so after one event it stays in ALARM and never notifies the next", "missing-ignored"),
    _alarm_case(both(setp(A_CREATED, dimensions={"Account": "$.userIdentity.accountId"}),
                     lambda s: s[F_CREATED].props["metricTransformation"].update(dimensions={"Account": "$.userIdentity.accountId"})),
                "watches a metric that the filter publishes per value of dimensions {'Account': '$.userIdentity.accountId'}, so the "
                "alarm sees only the values it names; expected a metric without dimensions", "filter-dimension-selector-copied"),
    _alarm_case(setp(A_CREATED, actionsEnabled=False), "has actionsEnabled false, so it notifies nobody", "actions-disabled"),
    _alarm_case(setp(A_CREATED, dimensions={"AccountId": "111122223333"}), "watches dimensions {'AccountId': '111122223333'} but the filter publishes {}", "dimension-mismatch"),
    _alarm_case(setp(A_CREATED, unit="Seconds"), "watches unit 'Seconds' but the filter publishes unit 'None'", "unit-mismatch"),
    _alarm_case(lambda s: s[F_CREATED].props["metricTransformation"].update(value="$.count"),
                "publishes metric value '$.count', expected a positive constant such as \"1\" so each event counts", "metric-value-field"),
    pytest.param(both(NO_CIS, setp(A_CREATED, alarmActions=[])), None, [(
        f"{U(A_CREATED)} has no alarmActions, so it notifies nobody; expected the alert SNS topic's ARN.", U(A_CREATED))], id="no-actions"),
    *[pytest.param(both(NO_CIS, setp(A_CREATED, alarmActions=actions), unlink(A_CREATED, "alarmActions")), None, [(
        f"{U(A_CREATED)} has alarmActions {actions!r}, none of which notifies anyone; expected the alert SNS topic's ARN "
        f"(or a Lambda function or Systems Manager incident response plan).", U(A_CREATED))], id=f"actions-{case}")
      for case, actions in [("empty-string", [""]), ("ec2-reboot", ["arn:aws:automate:us-east-1:ec2:reboot"])]],
    # A topic outside the stack counts only when listed as consumed elsewhere; a retired topic's ARN drops alerts,
    # even with the link to the stack's topic kept.
    *[pytest.param(both(NO_CIS, setp(A_CREATED, alarmActions=[arn]), *unlinked), None, [(
        f"{U(A_CREATED)} notifies SNS topic {arn!r}, which is neither a topic in this stack nor listed in "
        "externalTopicArns, so nothing shows the alert is delivered; expected the alert SNS topic's ARN.", U(A_CREATED))],
        id=f"actions-{case}") for case, arn, unlinked in [
            ("external-topic-arn-unlisted", "arn:aws:sns:us-east-1:111122223333:secops", [unlink(A_CREATED, "alarmActions")]),
            ("retired-topic-link-kept", "arn:aws:sns:us-east-1:111122223333:retired-alerts", []),
        ]],
    pytest.param(both(NO_CIS, setp(A_CREATED, alarmActions=["arn:aws:sns:us-east-1:111122223333:secops"]), unlink(A_CREATED, "alarmActions")),
                 {"externalTopicArns": ["arn:aws:sns:us-east-1:111122223333:secops"]}, [], id="actions-external-topic-arn-listed"),
    pytest.param(both(NO_CIS, unlink(A_CREATED, "alarmActions")), None, [(
        f"{U(A_CREATED)} has alarmActions unknown during preview, so the pack cannot verify that the alarm notifies someone; "
        f"expected a value known at preview (pass the topic's arn output so the engine records the dependency), "
        + UNKNOWN_TAIL.format(policy="root-access-key-creation-alarmed"), U(A_CREATED))], id="actions-unknown-unlinked"),
    pytest.param(both(NO_CIS, setp(A_CREATED, namespace="Other"), unlink(A_CREATED, "metricName", "namespace")), None, [(
        f"{U(F_CREATED)} publishes metric RootKeyGuardrails/RootAccessKeyCreated but no alarm in this stack watches it; "
        f"expected an aws:cloudwatch/metricAlarm:MetricAlarm on that metric that fires on a single event.", U(F_CREATED))],
        id="alarm-other-namespace"),
    pytest.param(both(NO_CIS, drop(A_CREATED)), None, [(
        f"{U(F_CREATED)} publishes metric RootKeyGuardrails/RootAccessKeyCreated but no alarm in this stack watches it; "
        f"expected an aws:cloudwatch/metricAlarm:MetricAlarm on that metric that fires on a single event.", U(F_CREATED))],
        id="no-alarm"),
    pytest.param(both(NO_CIS, setp(TRAIL, isMultiRegionTrail=False)), None, [(
        f"{U(TRAIL)} feeds the detection's log group but is not multi-region (isMultiRegionTrail is not true); expected a "
        f"logging, multi-region trail recording IAM write management events.", U(TRAIL))], id="trail-single-region"),
    pytest.param(both(NO_CIS, setp(TRAIL, enableLogging=False)), None, [(
        f"{U(TRAIL)} feeds the detection's log group but has enableLogging false; expected a logging, multi-region trail "
        f"recording IAM write management events.", U(TRAIL))], id="trail-not-logging"),
    pytest.param(both(NO_CIS, setp(TRAIL, eventSelectors=[{"readWriteType": "ReadOnly", "includeManagementEvents": True}])), None, [(
        f"{U(TRAIL)} feeds the detection's log group but its event selectors exclude write management events from "
        f"iam.amazonaws.com; expected a logging, multi-region trail recording IAM write management events.", U(TRAIL))],
        id="trail-read-only"),
    pytest.param(both(NO_CIS, drop(TRAIL)), None, [(
        f"{U(F_CREATED)} reads log group '{k.LOG_GROUP_NAME}', which no CloudTrail trail in this stack feeds and which is "
        f"not listed in externalTrailLogGroups; expected a multi-region trail whose cloudWatchLogsGroupArn is that log "
        f"group, or the log group name in the 'root-access-key-creation-alarmed' policy config.", U(F_CREATED))], id="no-trail"),
    pytest.param(drop(TRAIL), {"externalTrailLogGroups": [k.LOG_GROUP_NAME]}, [], id="external-trail-log-group"),
    pytest.param(both(NO_CIS, drop(TRAIL, LOGS), unlink(F_CREATED, "logGroupName"), setp(F_CREATED, logGroupName="aws-controltower/CloudTrailLogs")),
                 {"externalTrailLogGroups": ["aws-controltower/CloudTrailLogs"]}, [], id="existing-control-tower-log-group"),
    pytest.param(both(NO_CIS, setp(TRAIL, advancedEventSelectors=[{"name": "mgmt", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, {"field": "readOnly", "equals": ["false"]}]}])),
                 None, [], id="advanced-selectors-write-management"),
    pytest.param(both(NO_CIS, setp(A_CREATED, statistic="SampleCount")), None, [], id="samplecount-equivalent"),
    pytest.param(both(NO_CIS, setp(A_CREATED, statistic="Maximum", threshold=0.5, comparisonOperator="GreaterThanThreshold")), None, [], id="maximum-gt-half-equivalent"),
    pytest.param(both(NO_CIS, setp(A_CREATED, evaluationPeriods=5, datapointsToAlarm=1, period=60)), None, [], id="one-of-five-datapoints"),
    pytest.param(both(NO_CIS, setp(F_CREATED, pattern='{$.userIdentity.type=Root&&$.eventName=CreateAccessKey}')), None, [], id="unquoted-compact-pattern"),
    pytest.param(setp(A_CREATED, threshold=2), None, [], id="cis-alarm-still-detects"),
]


@pytest.mark.parametrize(("mutate", "config", "expected"), ALARMED_CASES)
def test_root_access_key_creation_alarmed_changed_baseline_reports(mutate: Mutation, config: Any, expected: list[Any]) -> None:
    assert list(outcome(detection.validate_root_access_key_creation_alarmed, mutate, config).messages) == expected


@pytest.mark.parametrize(("provider_region", "expected"), [
    pytest.param("us-east-1", [], id="trail-region"),
    pytest.param("eu-west-1", [(
        f"{U(F_CREATED)} reads log group '{k.LOG_GROUP_NAME}' in region 'eu-west-1', which no CloudTrail trail in this "
        f"stack feeds and which is not listed in externalTrailLogGroups; expected a multi-region trail whose "
        f"cloudWatchLogsGroupArn is that log group, or the log group name in the 'root-access-key-creation-alarmed' "
        f"policy config.", U(F_CREATED))], id="other-region"),
])
def test_root_access_key_creation_alarmed_provider_region_decides_log_group(provider_region: str, expected: list[Any]) -> None:
    # The region comes from the resources' provider (pulumi-aws 7 also takes a per-resource `region`).
    specs = k.baseline()
    NO_CIS(specs)
    args = k.stack_args(specs)
    provider = PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy({"region": provider_region}),
                                      f"urn:pulumi:{k.STACK}::{k.PROJECT}::pulumi:providers:aws::regional", "regional")
    for resource in args.resources:
        if resource.name in (F_CREATED, A_CREATED, TOPIC, LOGS):
            resource.provider = provider
    assert list(k.run(detection.validate_root_access_key_creation_alarmed, args).messages) == expected


def test_root_access_key_creation_alarmed_max_period_config_accepts_longer_period() -> None:
    result = outcome(detection.validate_root_access_key_creation_alarmed, both(NO_CIS, setp(A_CREATED, period=3600)), {"maxAlarmPeriodSeconds": 3600})
    assert result.messages == ()


def test_root_access_key_creation_alarmed_invalid_max_period_reported() -> None:
    result = outcome(detection.validate_root_access_key_creation_alarmed, None, {"maxAlarmPeriodSeconds": 90})
    assert result.messages == ((
        "The 'root-access-key-creation-alarmed' policy config is invalid: policy config key 'maxAlarmPeriodSeconds' is "
        "90; expected 10, 30 or a multiple of 60 up to 86400 seconds.", None),)


CIS_EXAMPLE = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
CIS_CASES = [
    pytest.param(drop(F_CIS, A_CIS), [
        (f"{U(F_CREATED)} has filter pattern {k.PATTERN_CREATED!r} that does not match every root user CreateAccessKey "
         f"call that fails with an errorCode, such as an SCP's AccessDenied (it matches none of them); nor every root user "
         f"console sign-in (it matches none of them); expected a pattern matching every root user action and sign-in but "
         f"not AWS services acting for root, such as {CIS_EXAMPLE}.", U(F_CREATED)),
    ], id="cis-filter-removed"),
    pytest.param(setp(F_CIS, pattern='{ $.userIdentity.type = "Root" }'), [
        (f"{U(F_CIS)} has filter pattern '{{ $.userIdentity.type = \"Root\" }}' that also matches an AWS service acting on "
         f"behalf of the root user (invokedBy set), so its alarm would be noise; expected a pattern matching every root "
         f"user action and sign-in but not AWS services acting for root, such as {CIS_EXAMPLE} and nothing else.", U(F_CIS)),
    ], id="cis-without-invokedby-exclusion"),
    pytest.param(setp(F_CIS, pattern='{ ($.userIdentity.type = Root) && ($.userIdentity.invokedBy NOT EXISTS) && ($.eventType != AwsServiceEvent) }'), [],
                 id="cis-parenthesised-unquoted"),
    pytest.param(drop(A_CIS), [
        (f"{U(F_CIS)} publishes metric RootKeyGuardrails/RootAccountUsage but no alarm in this stack watches it; expected "
         f"an aws:cloudwatch/metricAlarm:MetricAlarm on that metric that fires on a single event.", U(F_CIS)),
    ], id="cis-alarm-removed"),
    pytest.param(both(decoy_log_group(F_CIS), in_region("eu-west-1", F_CIS, A_CIS, TOPIC)), [
        (f"{U(F_CIS)} reads log group '{k.LOG_GROUP_NAME}' in region 'eu-west-1', which no CloudTrail trail in this stack "
         f"feeds and which is not listed in externalTrailLogGroups; expected a multi-region trail whose "
         f"cloudWatchLogsGroupArn is that log group, or the log group name in the 'cis-root-usage-alarmed' policy config.", U(F_CIS)),
    ], id="cis-moved-onto-same-named-group"),
]


@pytest.mark.parametrize(("mutate", "expected"), CIS_CASES)
def test_cis_root_usage_alarmed_changed_baseline_reports(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(detection.validate_cis_root_usage_alarmed, mutate).messages) == expected


FN_ARN = f"arn:aws:lambda:{k.REGION}:{k.ACCOUNT}:function:root-access-key-audit-function-5566778"
SCHEDULED_CASES = [
    pytest.param(drop(FN), [(
        "Stack 'dev' has no audit function; expected an aws:lambda/function:Function with handler audit.handler.handler "
        "(or inside a root-key-guardrails:audit:RootAccessKeyAudit component) that a schedule invokes.", None)], id="no-function"),
    pytest.param(setp(FN, handler="audit.handler.main"), [(
        f"{U(FN)} has handler 'audit.handler.main', which is not the audit's entry point, so no invocation audits; "
        f"expected audit.handler.handler.", U(FN))], id="function-in-component-other-handler"),
    pytest.param(setp(FN, handler=k.UNKNOWN), [(
        f"{U(FN)} has handler unknown during preview, so the pack cannot verify that the function runs the audit; "
        f"expected a value known at preview (set it literally), " + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"),
        U(FN))], id="function-handler-unknown"),
    pytest.param(setp(FN, environment=k.UNKNOWN), [(
        f"{U(FN)} has environment unknown during preview, so the pack cannot verify that the audit accepts its settings; "
        f"expected a value known at preview (set it from the literal config value), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(FN))], id="function-environment-unknown"),
    pytest.param(setp(FN, environment={"variables": {"AUDIT_MAX_WORKERS": k.UNKNOWN}}), [(
        f"{U(FN)} has environment variable AUDIT_MAX_WORKERS unknown during preview, so the pack cannot verify that the "
        f"audit accepts its settings; expected a value known at preview (set it from the literal config value), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(FN))], id="function-setting-unknown"),
    # The alert topic's ARN is unknown until the topic exists: linked to the topic alone, it is an ARN.
    pytest.param(both(setp(FN, environment={"variables": {"AUDIT_SNS_TOPIC_ARN": k.UNKNOWN}}),
                      lambda s: s[FN].links.update(environment=[TOPIC])), [], id="function-topic-arn-output"),
    pytest.param(setp(FN, environment={"variables": {"AUDIT_SNS_TOPIC_ARN": k.UNKNOWN}}), [(
        f"{U(FN)} has environment variable AUDIT_SNS_TOPIC_ARN unknown during preview, so the pack cannot verify that the "
        f"audit accepts its settings; expected a value known at preview (set it from the literal config value), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(FN))], id="function-topic-arn-unlinked"),
    *[pytest.param(setp(FN, environment={"variables": {key: value}}), [(
        f"{U(FN)} sets {key} to {value!r}, which the audit refuses on every run{why}.", U(FN))], id=f"function-setting-{case}")
      for case, key, value, why in [
          ("namespace-empty", "AUDIT_METRIC_NAMESPACE", "", "; expected a CloudWatch namespace"),
          ("namespace-reserved", "AUDIT_METRIC_NAMESPACE", "AWS/Custom", " (AWS/ is reserved); expected a namespace of your own"),
          ("topic-not-arn", "AUDIT_SNS_TOPIC_ARN", "alerts", "; expected an SNS topic ARN or nothing"),
          ("role-blank", "AUDIT_ORG_ROLE_NAME", "  ", "; expected an IAM role name (1-64 of letters, digits and +=,.@_-) or nothing"),
          ("role-invalid", "AUDIT_ORG_ROLE_NAME", "Root Key Audit", "; expected an IAM role name (1-64 of letters, digits and +=,.@_-) or nothing"),
          ("workers-zero", "AUDIT_MAX_WORKERS", "0", "; expected a whole number from 1 to 64"),
          ("workers-fullwidth", "AUDIT_MAX_WORKERS", "\uff18", "; expected a whole number from 1 to 64"),
          ("age-nan", "AUDIT_MAX_REPORT_AGE_HOURS", "nan", "; expected a whole number from 1 to 24"),
          ("hub-yes", "AUDIT_SECURITY_HUB", "yes", "; expected true or false"),
          ("remediate-number", "AUDIT_REMEDIATE", 1, "; expected a string"),
      ]],
    *[pytest.param(setp(FN, environment={"variables": variables}), [], id=f"function-setting-accepted-{case}")
      for case, variables in [
          ("blank-padded", {"AUDIT_MAX_WORKERS": " 8 ", "AUDIT_SECURITY_HUB": "true\n", "AUDIT_ORG_ROLE_NAME": " RootKeyAudit "}),
          ("empty-optional", {"AUDIT_SNS_TOPIC_ARN": "", "AUDIT_ORG_ROLE_NAME": ""}),
          ("other-variable", {"OTHER": 5, "AUDIT_METRIC_NAMESPACE": "Security/RootKeys"}),
      ]],
    pytest.param(drop(TARGET), [(
        f"{U(FN)} is not the target of any scheduled EventBridge rule in this stack; expected an "
        f"aws:cloudwatch/eventRule:EventRule with a scheduleExpression and an EventTarget invoking the function.", U(FN))],
        id="no-target"),
    pytest.param(drop(PERMISSION), [(
        f"{U(FN)} is scheduled by {U(SCHEDULE)} but no aws:lambda/permission:Permission lets events.amazonaws.com invoke "
        f"it from that rule; expected action lambda:InvokeFunction, principal events.amazonaws.com and the rule's ARN as "
        f"sourceArn.", U(FN))], id="no-permission"),
    pytest.param(setp(PERMISSION, principal="sns.amazonaws.com"), [(
        f"{U(FN)} is scheduled by {U(SCHEDULE)} but no aws:lambda/permission:Permission lets events.amazonaws.com invoke "
        f"it from that rule; expected action lambda:InvokeFunction, principal events.amazonaws.com and the rule's ARN as "
        f"sourceArn.", U(FN))], id="permission-wrong-principal"),
    pytest.param(setp(SCHEDULE, state="DISABLED"), [(
        f"{U(SCHEDULE)}, which schedules {U(FN)}, is disabled; expected state ENABLED.", U(SCHEDULE))], id="schedule-disabled"),
    *[pytest.param(setp(SCHEDULE, scheduleExpression=expression), [(
        f"{U(SCHEDULE)}, which targets {U(FN)}, has scheduleExpression {expression!r}, which {problem}; expected a "
        f"rate(...) or cron(...) that runs the audit at least once every 24 hours, such as rate(1 hour).", U(SCHEDULE))],
        id=f"schedule-{case}")
      for case, expression, problem in [
          ("singular-unit-plural", "rate(1 hours)", "EventBridge rejects or the pack cannot evaluate: EventBridge wants "
           "the singular unit for 1 and the plural otherwise"),
          ("zero-rate", "rate(0 minutes)", "EventBridge rejects or the pack cannot evaluate: a rate must be a positive number"),
          ("rate-two-days", "rate(2 days)", "runs only every 48 hours, so whole days pass without an audit"),
          ("rate-25-hours", "rate(25 hours)", "runs only every 25 hours, so whole days pass without an audit"),
          ("past-year", "cron(0 3 * * ? 2020)", "never fires again"),
          ("only-2199", "cron(0 3 * * ? 2199)", "does not fire in the next 24 hours; its next run is 2199-01-01T03:00Z"),
          ("leap-day", "cron(0 3 29 2 ? *)", "does not fire in the next 24 hours; its next run is 2028-02-29T03:00Z"),
          ("this-year-only", "cron(0 3 * * ? 2026)", "stops firing after 2026-12-31T03:00Z"),
          ("weekdays", "cron(0 12 ? * MON-FRI *)", "leaves 3 days without a run after 2026-12-04T12:00Z"),
          ("weekly-sunday-is-1", "cron(0 12 ? * 1 *)", "does not fire in the next 24 hours; its next run is 2026-12-06T12:00Z"),
          ("last-friday", "cron(0 12 ? * 6L *)", "does not fire in the next 24 hours; its next run is 2026-12-25T12:00Z"),
          ("second-tuesday", "cron(0 12 ? * 3#2 *)", "does not fire in the next 24 hours; its next run is 2026-12-08T12:00Z"),
          ("last-day", "cron(0 12 L * ? *)", "does not fire in the next 24 hours; its next run is 2026-12-31T12:00Z"),
          ("nearest-weekday", "cron(0 12 15W * ? *)", "does not fire in the next 24 hours; its next run is 2026-12-15T12:00Z"),
          ("both-days", "cron(0 3 * * * *)", "EventBridge rejects or the pack cannot evaluate: cron() needs ? in exactly one "
           "of day-of-month and day-of-week"),
          ("five-fields", "cron(0 3 * * ?)", "EventBridge rejects or the pack cannot evaluate: cron() takes six fields "
           "(minutes hours day-of-month month day-of-week year), got 5"),
          ("minute-60", "cron(60 3 * * ? *)", "EventBridge rejects or the pack cannot evaluate: the minutes field has 60, outside 0-59"),
          ("weekday-zero", "cron(0 3 ? * 0 *)", "EventBridge rejects or the pack cannot evaluate: the day-of-week field has 0, outside 1-7"),
          ("unevaluated-form", "cron(0 3 L-2 * ? *)", "EventBridge rejects or the pack cannot evaluate: the day-of-month field has "
           "'L', expected a number from 1 to 31"),
      ]],
    *[pytest.param(setp(SCHEDULE, scheduleExpression=expression), [], id=f"schedule-runs-{case}")
      for case, expression in [
          ("hourly-cron", "cron(0 * * * ? *)"), ("daily-cron", "cron(0 3 * * ? *)"), ("every-weekday-number", "cron(0 3 ? * 1-7 *)"),
          ("every-weekday-name", "cron(0 3 ? * SUN-SAT *)"), ("steps", "cron(0 0/6 * * ? *)"), ("star-step", "cron(15 */6 * * ? *)"),
          ("months-named", "cron(0 3 * JAN-DEC ? *)"), ("years-ahead", "cron(0 3 * * ? 2026-2199)"), ("rate-daily", "rate(1 day)"),
          ("rate-24-hours", "rate(24 hours)"), ("rate-minutes", "rate(1440 minutes)"),
      ]],
    pytest.param(both(unlink(PERMISSION, "sourceArn"), setp(PERMISSION, sourceArn=None)), [], id="permission-without-source-arn"),
    *[pytest.param(setp(PERMISSION, action=action), [], id=f"permission-action-{action}") for action in ("lambda:*", "*", "lambda:invokefunction")],
    pytest.param(setp(PERMISSION, action="lambda:GetFunction"), [(
        f"{U(FN)} is scheduled by {U(SCHEDULE)} but no aws:lambda/permission:Permission lets events.amazonaws.com invoke "
        f"it from that rule; expected action lambda:InvokeFunction, principal events.amazonaws.com and the rule's ARN as "
        f"sourceArn.", U(FN))], id="permission-other-action"),
    pytest.param(setp(PERMISSION, qualifier="live"), [(
        f"{U(PERMISSION)} lets events.amazonaws.com invoke {U(FN)} only through qualifier 'live', but {U(TARGET)} invokes "
        f"the unqualified function; expected the qualifier the target invokes, or none.", U(PERMISSION))], id="permission-qualifier-not-invoked"),
    pytest.param(both(setp(PERMISSION, qualifier="live"), setp(TARGET, arn=f"{FN_ARN}:live")), [], id="permission-qualifier-invoked"),
    pytest.param(both(setp(PERMISSION, qualifier="1"), setp(TARGET, arn=f"{FN_ARN}:live")), [(
        f"{U(PERMISSION)} lets events.amazonaws.com invoke {U(FN)} only through qualifier '1', but {U(TARGET)} invokes "
        f"qualifier 'live'; expected the qualifier the target invokes, or none.", U(PERMISSION))], id="permission-qualifier-other"),
    pytest.param(setp(PERMISSION, qualifier=k.UNKNOWN), [(
        f"{U(PERMISSION)} has qualifier unknown during preview, so the pack cannot verify that it covers the invocation by "
        f"{U(TARGET)}; expected a value known at preview (set it literally or leave it out), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(PERMISSION))], id="permission-qualifier-unknown"),
    pytest.param(both(setp(PERMISSION, sourceAccount=k.ACCOUNT), setp(TARGET, arn=FN_ARN)), [], id="permission-source-account-own"),
    pytest.param(both(setp(PERMISSION, sourceAccount="999999999999"), setp(TARGET, arn=FN_ARN)), [(
        f"{U(PERMISSION)} lets events.amazonaws.com invoke {U(FN)} only for source account '999999999999', but "
        f"{U(SCHEDULE)} runs in account '{k.ACCOUNT}'; expected the rule's account, or no sourceAccount.", U(PERMISSION))],
        id="permission-source-account-other"),
    pytest.param(setp(PERMISSION, sourceAccount="999999999999"), [(
        f"{U(PERMISSION)} has sourceAccount unknown during preview, so the pack cannot verify that {U(SCHEDULE)} runs in "
        f"account '999999999999'; expected a value known at preview (give the rule's ARN as sourceArn from known values), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(PERMISSION))], id="permission-source-account-unverifiable"),
    pytest.param(setp(FN, reservedConcurrentExecutions=0), [(
        f"{U(FN)} has reservedConcurrentExecutions 0, which throttles every invocation, so the audit never runs; expected "
        f"no reservation (-1) or a positive one.", U(FN))], id="function-reserved-zero"),
    *[pytest.param(setp(FN, reservedConcurrentExecutions=n), [], id=f"function-reserved-{n}") for n in (-1, 1, "5")],
    pytest.param(setp(FN, reservedConcurrentExecutions="0"), [(
        f"{U(FN)} has reservedConcurrentExecutions 0, which throttles every invocation, so the audit never runs; expected "
        f"no reservation (-1) or a positive one.", U(FN))], id="function-reserved-zero-text"),
    *[pytest.param(setp(FN, reservedConcurrentExecutions=value), [(
        f"{U(FN)} has reservedConcurrentExecutions {value!r}, which is not a whole number; expected no reservation (-1) or "
        f"a positive one.", U(FN))], id=f"function-reserved-{case}") for case, value in [("bool", False), ("word", "none")]],
    *[pytest.param(setp(PERMISSION, **{prop: value}), [(
        f"{U(PERMISSION)} sets {prop} {value!r}, which Lambda turns into a condition that the schedule's invocation by "
        f"events.amazonaws.com does not meet; expected no {prop}.", U(PERMISSION))], id=f"permission-{prop}")
      for prop, value in [("principalOrgId", "o-abcdefghij"), ("eventSourceToken", "tok"), ("functionUrlAuthType", "AWS_IAM")]],
    pytest.param(setp(PERMISSION, principalOrgId=k.UNKNOWN), [(
        f"{U(PERMISSION)} has principalOrgId unknown during preview, so the pack cannot verify that it lets {U(SCHEDULE)} "
        f"invoke the function; expected a value known at preview (leave it out), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(PERMISSION))], id="permission-principal-org-unknown"),
    pytest.param(setp(SCHEDULE, region="eu-west-1"), [(
        f"{U(SCHEDULE)} is in region 'eu-west-1' but {U(FN)} runs in 'the default provider region', and the pack cannot "
        f"tell that they are the same (set the region on both or on neither); expected the schedule in the function's "
        f"region.", U(SCHEDULE))], id="schedule-region-unverifiable"),
    pytest.param(both(setp(SCHEDULE, region="eu-west-1"), setp(FN, region="us-east-1")), [(
        f"{U(SCHEDULE)} is in region 'eu-west-1' but {U(FN)} runs in 'us-east-1', and a rule invokes a function only in its "
        f"own region; expected the schedule in the function's region.", U(SCHEDULE))], id="schedule-region-other"),
    pytest.param(both(setp(SCHEDULE, region="eu-west-1"), setp(FN, region="eu-west-1")), [], id="schedule-region-same"),
    pytest.param(setp(SCHEDULE, region=k.UNKNOWN), [(
        f"{U(SCHEDULE)} has region unknown during preview, so the pack cannot verify that {U(SCHEDULE)} is in the region of "
        f"{U(FN)}; expected a value known at preview (set the provider's region literally), "
        + UNKNOWN_TAIL.format(policy="root-access-key-audit-scheduled"), U(SCHEDULE))], id="schedule-region-unknown"),
]

# The schedule verdicts depend on the time: the pack judges the next 24 hours and the coming year from now.
SCHEDULE_NOW = datetime(2026, 12, 1, 21, 45, tzinfo=timezone.utc)


@pytest.mark.parametrize(("mutate", "expected"), SCHEDULED_CASES)
def test_root_access_key_audit_scheduled_changed_baseline_reports(mutate: Mutation, expected: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "_now", lambda: SCHEDULE_NOW)
    assert list(outcome(audit.validate_root_access_key_audit_scheduled, mutate).messages) == expected


def audit_policy_with_condition(sid: str, condition: dict[str, Any]) -> str:
    doc = json.loads(json.dumps(k.AUDIT_POLICY))
    for st in doc["Statement"]:
        if st.get("Sid") == sid:
            st["Condition"] = condition
    return json.dumps(doc)


def audit_policy_with(extra: Optional[dict[str, Any]] = None, drop_condition_of: Optional[str] = None) -> str:
    doc = json.loads(json.dumps(k.AUDIT_POLICY))
    if extra:
        doc["Statement"].append(extra)
    if drop_condition_of:
        for st in doc["Statement"]:
            if st.get("Sid") == drop_condition_of:
                st.pop("Condition")
    return json.dumps(doc)


LP = "expected only the grants the audit needs, scoped by resource or condition."
IN_ORG = {"StringEquals": {"aws:ResourceOrgID": "o-a1b2c3d4e5"}}
OTHER_TOPIC = f"arn:aws:sns:{k.REGION}:{k.ACCOUNT}:retired-alerts"
DELETE_TASK = "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
# The function as the program's organization mode configures it: the audit role name and the alert topic.
ORG_MODE = setp(FN, environment={"variables": {"AUDIT_ORG_ROLE_NAME": "RootKeyAudit", "AUDIT_SNS_TOPIC_ARN": k.TOPIC_ARN}})


def assume(resource: str, condition: Optional[dict[str, Any]]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement

KMS_UNSCOPED = [
    (f"{U(AUDIT_POLICY)} statement 'EncryptAlerts' grants '{action}' on the wildcard "
     f"'arn:aws:kms:us-east-1:111122223333:key/*' without a condition on kms:ViaService or kms:ResourceAliases or "
     f"kms:RequestAlias; {LP}", U(AUDIT_POLICY))
    for action in ("kms:GenerateDataKey", "kms:Decrypt")
]
LEAST_PRIVILEGE_CASES = [
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})), [
        (f"{U(AUDIT_POLICY)} statement #8 grants the wildcard action 'iam:*'; {LP}", U(AUDIT_POLICY))], id="iam-wildcard"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Keys", "Effect": "Allow", "Action": "iam:DeleteAccessKey", "Resource": "*"})), [
        (f"{U(AUDIT_POLICY)} statement 'Keys' grants 'iam:DeleteAccessKey', which the audit does not need; {LP}", U(AUDIT_POLICY))], id="extra-action"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Any", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})), [
        (f"{U(AUDIT_POLICY)} statement 'Any' uses NotAction, which grants every other action; {LP}", U(AUDIT_POLICY))], id="not-action"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with(drop_condition_of="PublishAuditMetrics")), [
        (f"{U(AUDIT_POLICY)} statement 'PublishAuditMetrics' grants 'cloudwatch:PutMetricData' without a narrowing condition on "
         f"'cloudwatch:namespace'; {LP}", U(AUDIT_POLICY))], id="metrics-unscoped"),
    *[pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*", "Condition": condition})), [
        (f"{U(AUDIT_POLICY)} statement 'Metrics' grants 'cloudwatch:PutMetricData' without a narrowing condition on "
         f"'cloudwatch:namespace'; {LP}", U(AUDIT_POLICY))], id=f"metrics-{case}")
      for case, condition in [
          ("namespace-any", {"StringLike": {"cloudwatch:namespace": "*"}}),
          ("namespace-negated", {"StringNotEquals": {"cloudwatch:namespace": "AWS/EC2"}}),
          ("namespace-ifexists", {"StringEqualsIfExists": {"cloudwatch:namespace": "RootKeyGuardrails"}}),
      ]],
    *[pytest.param(both(ORG_MODE, setp(AUDIT_POLICY, policy=audit_policy_with(assume(resource, condition)))),
                   [(f"{U(AUDIT_POLICY)} statement 'Assume' grants 'sts:AssumeRole' on '{resource}'{problem}; {LP}", U(AUDIT_POLICY))] if problem else [],
                   id=f"assume-{case}")
      for case, resource, condition, problem in [
          ("audit-role-in-org", "arn:aws:iam::*:role/RootKeyAudit", IN_ORG, None),
          ("audit-role-in-org-paths", "arn:aws:iam::*:role/RootKeyAudit", {"ForAnyValue:StringLike": {"aws:ResourceOrgPaths": "o-a1b2c3d4e5/*"}}, None),
          ("audit-role-with-path", "arn:aws:iam::*:role/security/RootKeyAudit", IN_ORG, None),
          ("audit-role-in-named-account", "arn:aws:iam::444455556666:role/RootKeyAudit", None, None),
          ("admin-role", "arn:aws:iam::*:role/OrganizationAccountAccessRole", IN_ORG, ", an administrator role AWS keeps in member accounts"),
          ("control-tower-role", "arn:aws:iam::*:role/AWSControlTowerExecution", IN_ORG, ", an administrator role AWS keeps in member accounts"),
          ("admin-role-other-case", "arn:aws:iam::*:role/organizationaccountaccessrole", IN_ORG, ", an administrator role AWS keeps in member accounts"),
          ("sso-role", "arn:aws:iam::*:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef", IN_ORG, ", an administrator role AWS keeps in member accounts"),
          ("other-role", "arn:aws:iam::*:role/SecurityAudit", IN_ORG, ", which is not the configured audit role 'RootKeyAudit'"),
          ("any-role", "arn:aws:iam::*:role/*", IN_ORG, ", which matches every name instead of one"),
          ("role-prefix", "arn:aws:iam::*:role/RootKey*", IN_ORG, ", which matches every name instead of one"),
          ("any-account", "arn:aws:iam::*:role/RootKeyAudit", None, " in any account, without a condition on aws:ResourceOrgID, "
           "aws:ResourceOrgPaths or aws:ResourceAccount keeping it in the organization"),
          ("org-negated", "arn:aws:iam::*:role/RootKeyAudit", {"StringNotEquals": {"aws:ResourceOrgID": "o-a1b2c3d4e5"}},
           " in any account, without a condition on aws:ResourceOrgID, aws:ResourceOrgPaths or aws:ResourceAccount keeping it in the organization"),
      ]],
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with(assume("arn:aws:iam::*:role/RootKeyAudit", IN_ORG))), [
        (f"{U(AUDIT_POLICY)} statement 'Assume' grants 'sts:AssumeRole' on 'arn:aws:iam::*:role/RootKeyAudit' but the audit "
         f"function has no AUDIT_ORG_ROLE_NAME, so it needs no role in other accounts; {LP}", U(AUDIT_POLICY))], id="assume-without-org-mode"),
    pytest.param(both(ORG_MODE, setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": OTHER_TOPIC}))), [
        (f"{U(AUDIT_POLICY)} statement 'Publish' grants 'sns:Publish' on '{OTHER_TOPIC}', which is not the alert topic the "
         f"audit publishes to (AUDIT_SNS_TOPIC_ARN); {LP}", U(AUDIT_POLICY))], id="publish-other-topic"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": OTHER_TOPIC})), [
        (f"{U(AUDIT_POLICY)} statement 'Publish' grants 'sns:Publish' on '{OTHER_TOPIC}', which is not the alert topic the "
         f"audit publishes to (AUDIT_SNS_TOPIC_ARN); {LP}", U(AUDIT_POLICY))], id="publish-topic-not-in-stack"),
    *[pytest.param(both(ORG_MODE, setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Root", "Effect": "Allow", "Action": "sts:AssumeRoot", "Resource": "arn:aws:iam::*:root", **({"Condition": condition} if condition else {})}))),
                   [(f"{U(AUDIT_POLICY)} statement 'Root' grants 'sts:AssumeRoot' {problem}; {LP}", U(AUDIT_POLICY))] if problem else [],
                   id=f"assume-root-{case}")
      for case, condition, problem in [
          ("delete-task", {"StringEquals": {"sts:TaskPolicyArn": DELETE_TASK}}, None),
          ("delete-task-arn-equals", {"ArnEquals": {"sts:TaskPolicyArn": [DELETE_TASK]}}, None),
          ("no-condition", None, "without an sts:TaskPolicyArn condition naming root-task/IAMDeleteRootUserCredentials"),
          ("other-condition", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, "without an sts:TaskPolicyArn condition naming root-task/IAMDeleteRootUserCredentials"),
          ("any-task", {"StringLike": {"sts:TaskPolicyArn": "arn:aws:iam::aws:policy/root-task/*"}},
           "with an sts:TaskPolicyArn condition StringLike 'arn:aws:iam::aws:policy/root-task/*' that allows other task policies"),
          ("two-tasks", {"StringEquals": {"sts:TaskPolicyArn": [DELETE_TASK, "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword"]}},
           f"with an sts:TaskPolicyArn condition StringEquals {[DELETE_TASK, 'arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword']!r} that allows other task policies"),
          ("negated", {"StringNotEquals": {"sts:TaskPolicyArn": DELETE_TASK}},
           f"with an sts:TaskPolicyArn condition StringNotEquals {DELETE_TASK!r} that allows other task policies"),
          ("if-exists", {"StringEqualsIfExists": {"sts:TaskPolicyArn": DELETE_TASK}},
           f"with an sts:TaskPolicyArn condition StringEqualsIfExists {DELETE_TASK!r} that allows other task policies"),
      ]],
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Hub", "Effect": "Allow", "Action": "securityhub:BatchUpdateFindings", "Resource": "*"})), [
        (f"{U(AUDIT_POLICY)} statement 'Hub' grants 'securityhub:BatchUpdateFindings' on '*', wider than "
         f"['arn:aws*:securityhub:*:*:hub/default']; {LP}", U(AUDIT_POLICY))], id="update-findings-anywhere"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with({"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"})), [
        (f"{U(AUDIT_POLICY)} statement 'Publish' grants 'sns:Publish' on '*', wider than ['arn:aws*:sns:*:*:*']; {LP}", U(AUDIT_POLICY))], id="publish-anywhere"),
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with(drop_condition_of="EncryptAlerts")), KMS_UNSCOPED, id="kms-unscoped"),
    # ForAllValues over a key the request does not carry is true: a direct KMS call has no kms:ViaService.
    pytest.param(setp(AUDIT_POLICY, policy=audit_policy_with_condition(
        "EncryptAlerts", {"ForAllValues:StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}})), KMS_UNSCOPED, id="kms-for-all-values-only"),
    pytest.param(setp(AUDIT_POLICY, policy=k.UNKNOWN), [
        (f"{U(AUDIT_POLICY)} has policy unknown during preview, so the pack cannot verify that the audit role "
         f"{U('root-access-key-audit-role')} is least privilege; expected a value known at preview (build the document with "
         f"json.dumps from known values, e.g. scope KMS with kms:ViaService instead of the key's ARN), "
         + UNKNOWN_TAIL.format(policy="audit-role-least-privilege"), U(AUDIT_POLICY))], id="policy-unknown"),
    pytest.param(lambda s: s.__setitem__("admin", k.Spec("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "root-access-key-audit-admin",
        {"role": k.UNKNOWN, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, parent="root-access-key-audit",
        links={"role": ["root-access-key-audit-role"]})), [
        (f"{ADMIN_ATTACHMENT} attaches managed policy 'arn:aws:iam::aws:policy/AdministratorAccess' to the audit role "
         f"{U('root-access-key-audit-role')}; expected only arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole "
         f"besides the audit's own grants, which the pack can judge.", ADMIN_ATTACHMENT)], id="admin-attached"),
]


ROLE = "root-access-key-audit-role"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN_DOC = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
LP_UNKNOWN = UNKNOWN_TAIL.format(policy="audit-role-least-privilege")


def add_spec(key: str, type_: str, props: dict[str, Any], links: Optional[dict[str, list[str]]] = None) -> Mutation:
    return lambda specs: specs.__setitem__(key, k.Spec(type_, key, props, parent="root-access-key-audit", links=links or {}))


def urn_in_audit(type_: str, name: str) -> str:
    return U(ROLE).replace(f"aws:iam/role:Role::{ROLE}", f"{type_}::{name}")


GRANT_PATH_CASES = [
    # Every way the provider attaches a policy to a role is read, not only RolePolicy and RolePolicyAttachment.
    pytest.param(add_spec("legacy-attach", "aws:iam/policyAttachment:PolicyAttachment",
                          {"roles": [k.UNKNOWN], "policyArn": ADMIN_ARN}, {"roles": [ROLE]}), [(
        f"{urn_in_audit('aws:iam/policyAttachment:PolicyAttachment', 'legacy-attach')} attaches managed policy {ADMIN_ARN!r} "
        f"to the audit role {U(ROLE)}; expected only arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole "
        f"besides the audit's own grants, which the pack can judge.",
        urn_in_audit('aws:iam/policyAttachment:PolicyAttachment', 'legacy-attach'))], id="policy-attachment-by-roles"),
    pytest.param(add_spec("exclusive", "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                          {"roleName": "root-access-key-audit-role-1122334", "policyArns": [ADMIN_ARN]}), [(
        f"{urn_in_audit('aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive', 'exclusive')} attaches "
        f"managed policy {ADMIN_ARN!r} to the audit role {U(ROLE)}; expected only "
        f"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole besides the audit's own grants, which the pack "
        f"can judge.", urn_in_audit('aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive', 'exclusive'))],
        id="role-policy-attachments-exclusive"),
    # A customer managed policy of the stack is judged by its document, as an inline one is.
    pytest.param(both(add_spec("own-policy", "aws:iam/policy:Policy", {"policy": ADMIN_DOC, "arn": k.UNKNOWN}),
                      add_spec("own-attach", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                               {"role": k.UNKNOWN, "policyArn": k.UNKNOWN}, {"role": [ROLE], "policyArn": ["own-policy"]})),
                 [(f"{urn_in_audit('aws:iam/policy:Policy', 'own-policy')} statement #1 grants the wildcard action '*'; "
                   f"expected only the grants the audit needs, scoped by resource or condition.",
                   urn_in_audit('aws:iam/policy:Policy', 'own-policy'))], id="own-managed-policy-judged"),
    # A grant whose role is computed from two resources could be the audit role's: reported, never dropped.
    pytest.param(add_spec("maybe", "aws:iam/rolePolicy:RolePolicy", {"role": k.UNKNOWN, "policy": ADMIN_DOC},
                          {"role": [ROLE, "root-access-key-detection-trail-logs-role"]}), [(
        f"{urn_in_audit('aws:iam/rolePolicy:RolePolicy', 'maybe')} has role unknown during preview, so the pack cannot "
        f"verify whether it grants to the audit role {U(ROLE)}; expected a value known at preview (pass the audit role's "
        f"name output alone), " + LP_UNKNOWN, urn_in_audit('aws:iam/rolePolicy:RolePolicy', 'maybe'))], id="role-link-open"),
    # Computed attributes: unknown on every new role that leaves them unset, which hides nothing; unknown because the
    # program computed them from another resource, they could hold any grant.
    pytest.param(setp(ROLE, inlinePolicies=k.UNKNOWN, managedPolicyArns=k.UNKNOWN), [], id="computed-unset-policies"),
    pytest.param(both(setp(ROLE, inlinePolicies=k.UNKNOWN), lambda s: s[ROLE].links.update(inlinePolicies=["root-access-key-audit-policy"])), [(
        f"{U(ROLE)} has inlinePolicies unknown during preview, so the pack cannot verify that it grants nothing beyond the "
        f"audit's needs to the audit role {U(ROLE)}; expected a value known at preview (build them from known values), "
        + LP_UNKNOWN, U(ROLE))], id="inline-policies-from-another-resource"),
    # Whoever may assume the audit role can hide findings and, in org mode, read every member account.
    pytest.param(setp(ROLE, assumeRolePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})), [(
        f"{U(ROLE)} has a trust policy whose statement #1 lets principal {{'AWS': '*'}} assume the audit role; expected "
        f"only the service lambda.amazonaws.com.", U(ROLE))], id="trust-anyone"),
    pytest.param(setp(ROLE, assumeRolePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"}]})), [(
        f"{U(ROLE)} has a trust policy whose statement #1 lets principal {{'Service': ['lambda.amazonaws.com', "
        f"'ec2.amazonaws.com']}} assume the audit role; expected only the service lambda.amazonaws.com.", U(ROLE))],
        id="trust-another-service"),
    pytest.param(setp(ROLE, assumeRolePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})), [],
        id="trust-lambda-only"),
]


@pytest.mark.parametrize(("mutate", "expected"), GRANT_PATH_CASES)
def test_audit_role_least_privilege_every_grant_path_judged(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(audit.validate_audit_role_least_privilege, mutate).messages) == expected


@pytest.mark.parametrize(("mutate", "expected"), LEAST_PRIVILEGE_CASES)
def test_audit_role_least_privilege_changed_baseline_reports(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(audit.validate_audit_role_least_privilege, mutate).messages) == expected


EXTERNAL_ACTIONS = both(unlink(A_CREATED, "alarmActions"), setp(A_CREATED, alarmActions=["arn:aws:sns:us-east-1:999988887777:central-alerts"]))
SUBSCRIBER_CASES = [
    pytest.param(drop(SUB), None, [(
        f"{U(TOPIC)} receives notifications from {U(A_CREATED)} but has no subscription or other consumer; expected an "
        f"aws:sns/topicSubscription:TopicSubscription (e.g. set alarmEmails) so alerts reach someone.", U(TOPIC))], id="no-subscription"),
    pytest.param(both(unlink(SUB, "topic"), setp(TOPIC, arn=k.TOPIC_ARN)), None, [], id="subscription-by-known-arn"),
    pytest.param(EXTERNAL_ACTIONS, None, [(
        f"{U(A_CREATED)} notifies SNS topic 'arn:aws:sns:us-east-1:999988887777:central-alerts', which is not in this stack "
        f"nor in externalTopicArns; expected a topic whose subscribers the pack can see, or its ARN in the "
        f"'alarm-topic-has-subscriber' policy config.", U(A_CREATED))], id="external-topic-unlisted"),
    pytest.param(EXTERNAL_ACTIONS,
                 {"externalTopicArns": ["arn:aws:sns:us-east-1:999988887777:central-alerts"]}, [], id="external-topic-listed"),
]


@pytest.mark.parametrize(("mutate", "config", "expected"), SUBSCRIBER_CASES)
def test_alarm_topic_has_subscriber_changed_baseline_reports(mutate: Mutation, config: Any, expected: list[Any]) -> None:
    assert list(outcome(delivery.validate_alarm_topic_has_subscriber, mutate, {**ALL_STACKS, **(config or {})}).messages) == expected


def key_policy_without(sid: str) -> str:
    doc = json.loads(json.dumps(k.ALERT_KEY_POLICY))
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]
    return json.dumps(doc)


def key_policy_with(cloudwatch_condition: Any = "keep", extra: Optional[dict[str, Any]] = None) -> str:
    doc = json.loads(json.dumps(k.ALERT_KEY_POLICY))
    for st in doc["Statement"]:
        if st.get("Sid") == "AllowCloudWatchAlarms" and cloudwatch_condition != "keep":
            st["Condition"] = cloudwatch_condition
    if extra:
        doc["Statement"].append(extra)
    return json.dumps(doc)


ALARMS = f"{U(A_CREATED)}, {U(A_CIS)}"
KEY_EXPECTED = ("expected an Allow statement for {svc} with kms:Decrypt and kms:GenerateDataKey* whose conditions this "
                "publisher meets, and no Deny, or notifications are dropped.")
CW = "cloudwatch.amazonaws.com"
EB = "events.amazonaws.com"
ALARM_ARNS = f"arn:aws:cloudwatch:{k.REGION}:{k.ACCOUNT}:alarm:*"


def key_case(change: Mutation, why: str, case_id: str, svc: str = CW, who: Optional[str] = None) -> Any:
    return pytest.param(change, [(
        f"{U(KEY)}, the key of {U(TOPIC)}, does not let {svc} use it for {who or ALARMS} because {why}; "
        + KEY_EXPECTED.format(svc=svc), U(KEY))], id=case_id)


def key_case_both(change: Mutation, why: str, case_id: str) -> Any:
    """A change that blocks both publishers: `why` names the service as {svc}."""
    return pytest.param(change, [(
        f"{U(KEY)}, the key of {U(TOPIC)}, does not let {svc} use it for {who} because {why.format(svc=svc)}; "
        + KEY_EXPECTED.format(svc=svc), U(KEY)) for svc, who in ((CW, ALARMS), (EB, U("root-access-key-detection-root-create-access-key-alert")))],
        id=case_id)


TOPIC_POLICY_SPEC = "root-access-key-detection-alerts-policy"


def with_topic_policy(statement: dict[str, Any]) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[TOPIC_POLICY_SPEC] = k.Spec("aws:sns/topicPolicy:TopicPolicy", TOPIC_POLICY_SPEC, {
            "arn": k.UNKNOWN, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
            parent="root-access-key-detection", links={"arn": [TOPIC]})
    return mutate


DENY_PUBLISH = {"Sid": "DenyPublish", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}
TP_SPECS = k.baseline()
with_topic_policy(DENY_PUBLISH)(TP_SPECS)
KEY_CASES = [
    pytest.param(both(unlink(TOPIC, "kmsMasterKeyId"), setp(TOPIC, kmsMasterKeyId="alias/aws/sns")), [(
        f"{U(TOPIC)} is encrypted with the AWS-managed key alias/aws/sns, whose policy CloudWatch and EventBridge cannot "
        f"use; expected a customer-managed key whose policy lets cloudwatch.amazonaws.com and events.amazonaws.com use it.", U(TOPIC))],
        id="aws-managed-key"),
    key_case(setp(KEY, policy=key_policy_without("AllowCloudWatchAlarms")),
             "no statement of its key policy allows cloudwatch.amazonaws.com kms:Decrypt for this publisher", "no-cloudwatch-grant"),
    key_case(setp(KEY, policy=key_policy_with({"StringEquals": {"aws:SourceAccount": "444455556666"}})),
             "no statement of its key policy allows cloudwatch.amazonaws.com kms:Decrypt for this publisher", "grant-other-account"),
    key_case(setp(KEY, policy=key_policy_with({"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{k.REGION}:{k.ACCOUNT}:alarm:billing-*"}})),
             "no statement of its key policy allows cloudwatch.amazonaws.com kms:Decrypt for this publisher", "grant-billing-alarms"),
    key_case(setp(KEY, policy=key_policy_with({"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{k.ACCOUNT}:alarm:*"}})),
             "no statement of its key policy allows cloudwatch.amazonaws.com kms:Decrypt for this publisher", "grant-other-region"),
    key_case(setp(KEY, policy=key_policy_with({"StringEquals": {"kms:ViaService": f"sns.{k.REGION}.amazonaws.com"}})),
             "statement 'AllowCloudWatchAlarms' allows it only depending on the condition key 'kms:ViaService', which the pack "
             "cannot decide", "grant-unmodelled-key"),
    *[pytest.param(setp(KEY, policy=key_policy_with(condition)), [], id=f"grant-{case}") for case, condition in [
        ("no-condition", None),
        ("own-account", {"StringEquals": {"aws:SourceAccount": k.ACCOUNT}}),
        ("alarm-name-prefix", {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{k.REGION}:{k.ACCOUNT}:alarm:root-access-key-detection-*"}}),
        ("string-like-arn", {"StringLike": {"aws:SourceArn": f"arn:aws:cloudwatch:*:{k.ACCOUNT}:alarm:*"}}),
        ("if-exists", {"StringEqualsIfExists": {"aws:SourceAccount": k.ACCOUNT}}),
    ]],
    key_case_both(setp(KEY, policy=key_policy_with(extra={"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"})),
                  "statement 'DenyAll' of its key policy denies {svc} kms:Decrypt", "explicit-deny"),
    pytest.param(setp(KEY, policy=key_policy_with(extra={"Sid": "DenyOthers", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                                                          "Condition": {"StringNotEquals": {"aws:SourceAccount": k.ACCOUNT}}})), [(
        f"{U(KEY)}, the key of {U(TOPIC)}, does not let {EB} use it for {U('root-access-key-detection-root-create-access-key-alert')} because "
        f"statement 'DenyOthers' of its key policy denies {EB} kms:Decrypt; " + KEY_EXPECTED.format(svc=EB), U(KEY))],
        id="deny-without-source-account-hits-eventbridge"),
    key_case(setp(KEY, policy=key_policy_with(extra={"Sid": "DenyCw", "Effect": "Deny", "NotPrincipal": {"Service": EB}, "Action": "kms:Decrypt", "Resource": "*"})),
             "statement 'DenyCw' of its key policy denies cloudwatch.amazonaws.com kms:Decrypt", "deny-not-principal"),
    key_case_both(setp(KEY, policy=key_policy_with(extra={"Sid": "DenyTls", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                                                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}})),
                  "statement 'DenyTls' of its key policy may deny {svc} kms:Decrypt, depending on the condition key 'aws:SecureTransport'",
                  "deny-unmodelled-condition"),
    pytest.param(setp(KEY, policy=key_policy_with(extra={"Sid": "DenyBilling", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                                                          "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:*:alarm:billing-*"}}})), [],
                 id="deny-other-alarms-only"),
    pytest.param(setp(KEY, policy=key_policy_with(extra={"Sid": "EventBridgeScoped", "Effect": "Allow", "Principal": {"Service": EB}, "Action": "kms:*", "Resource": "*"})), [],
                 id="extra-grant"),
    pytest.param(setp(KEY, policy=None), [
        (f"{U(KEY)}, the key of {U(TOPIC)}, does not let {svc} use it for {who} because it has no key policy, and the default one only "
         f"trusts the account's IAM policies, which cannot grant a service principal; " + KEY_EXPECTED.format(svc=svc), U(KEY))
        for svc, who in ((CW, ALARMS), (EB, U("root-access-key-detection-root-create-access-key-alert")))], id="default-key-policy"),
    pytest.param(setp(KEY, isEnabled=False), [(f"{U(KEY)}, the key of {U(TOPIC)}, is disabled; expected an enabled key.", U(KEY))], id="key-disabled"),
    pytest.param(setp(KEY, policy=k.UNKNOWN), [(
        f"{U(KEY)} has policy unknown during preview, so the pack cannot verify that cloudwatch.amazonaws.com, "
        f"events.amazonaws.com may use the key of {U(TOPIC)}; expected a value known at preview (build the key policy with "
        f"json.dumps from known values), " + UNKNOWN_TAIL.format(policy="alarm-topic-key-usable"), U(KEY))], id="key-policy-unknown"),
    pytest.param(both(unlink(TOPIC, "kmsMasterKeyId"), setp(TOPIC, kmsMasterKeyId=None)), [], id="unencrypted-topic"),
    pytest.param(with_topic_policy(DENY_PUBLISH), [
        (f"{U(TOPIC_POLICY_SPEC, TP_SPECS)} keeps {svc} from publishing to {U(TOPIC)} for {who} because statement 'DenyPublish' "
         f"of its topic policy denies {svc} sns:Publish; expected no Deny of sns:Publish that applies to the alarms and rules "
         f"that notify the topic.", U(TOPIC_POLICY_SPEC, TP_SPECS))
        for svc, who in ((CW, ALARMS), (EB, U("root-access-key-detection-root-create-access-key-alert")))], id="topic-policy-deny"),
    pytest.param(with_topic_policy({**DENY_PUBLISH, "Principal": {"Service": CW}, "Condition": {"StringNotEquals": {"aws:SourceAccount": "444455556666"}}}), [
        (f"{U(TOPIC_POLICY_SPEC, TP_SPECS)} keeps {CW} from publishing to {U(TOPIC)} for {ALARMS} because statement 'DenyPublish' "
         f"of its topic policy denies {CW} sns:Publish; expected no Deny of sns:Publish that applies to the alarms and rules "
         f"that notify the topic.", U(TOPIC_POLICY_SPEC, TP_SPECS))], id="topic-policy-deny-other-account-only"),
    pytest.param(with_topic_policy({**DENY_PUBLISH, "Condition": {"StringNotEquals": {"aws:SourceAccount": k.ACCOUNT}}}), [], id="topic-policy-deny-foreign-accounts"),
    pytest.param(with_topic_policy({**DENY_PUBLISH, "Action": "sns:Subscribe"}), [], id="topic-policy-deny-other-action"),
    pytest.param(setp(TOPIC, policy=json.dumps({"Version": "2012-10-17", "Statement": [{**DENY_PUBLISH, "Principal": {"Service": EB}}]})), [
        (f"{U(TOPIC)} keeps {EB} from publishing to {U(TOPIC)} for {U('root-access-key-detection-root-create-access-key-alert')} because "
         f"statement 'DenyPublish' of its topic policy denies {EB} sns:Publish; expected no Deny of sns:Publish that applies to the "
         f"alarms and rules that notify the topic.", U(TOPIC))], id="topic-inline-policy-deny"),
    # The provider plans an unset topic `policy` as unknown (computed): a TopicPolicy writes that attribute last.
    pytest.param(both(setp(TOPIC, policy=k.UNKNOWN), with_topic_policy({**DENY_PUBLISH, "Action": "sns:Subscribe"})), [],
                 id="topic-policy-computed-replaced-by-topic-policy"),
    pytest.param(setp(TOPIC, policy=k.UNKNOWN), [(
        f"{U(TOPIC)} has policy unknown during preview, so the pack cannot verify that {U(TOPIC)} accepts the alarms' "
        f"notifications; expected a value known at preview (build the topic policy with json.dumps from known values), "
        + UNKNOWN_TAIL.format(policy="alarm-topic-key-usable"), U(TOPIC))], id="topic-policy-unknown-no-topic-policy"),
    pytest.param(both(setp(TOPIC, policy=k.UNKNOWN), with_topic_policy(DENY_PUBLISH)), [
        (f"{U(TOPIC_POLICY_SPEC, TP_SPECS)} keeps {svc} from publishing to {U(TOPIC)} for {who} because statement 'DenyPublish' "
         f"of its topic policy denies {svc} sns:Publish; expected no Deny of sns:Publish that applies to the alarms and rules "
         f"that notify the topic.", U(TOPIC_POLICY_SPEC, TP_SPECS))
        for svc, who in ((CW, ALARMS), (EB, U("root-access-key-detection-root-create-access-key-alert")))],
        id="topic-policy-computed-replaced-by-denying-topic-policy"),
]

KEY_TOPIC_EXPECTED = ("expected a customer-managed key whose policy lets cloudwatch.amazonaws.com and events.amazonaws.com "
                      "use it.")
ALIAS_SPEC = "root-access-key-detection-alerts-alias"


def with_alias(region: Optional[str]) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        props: dict[str, Any] = {"name": "alias/alerts", "targetKeyId": k.UNKNOWN}
        if region:
            props["region"] = region
        specs[ALIAS_SPEC] = k.Spec("aws:kms/alias:Alias", ALIAS_SPEC, props, parent="root-access-key-detection",
                                   links={"targetKeyId": [KEY]})
    return mutate


KEY_PLACE_CASES = [
    # SNS encrypts with keys of its own region: a key, or an alias, of the same name elsewhere is another one.
    pytest.param(setp(KEY, region="eu-west-1"), [(
        f"{U(TOPIC)} is in region 'of the default provider' but its key {U(KEY)} is in 'eu-west-1', and the pack cannot "
        f"tell that they are the same (set the region on both or on neither); {KEY_TOPIC_EXPECTED}", U(TOPIC))],
        id="key-region-unverifiable"),
    pytest.param(both(setp(KEY, region="eu-west-1"), setp(TOPIC, region="us-east-1")), [(
        f"{U(TOPIC)} is in region 'us-east-1' but its key {U(KEY)} is in 'eu-west-1', and SNS uses keys of its own region "
        f"only; {KEY_TOPIC_EXPECTED}", U(TOPIC))], id="key-region-other"),
    pytest.param(both(with_alias("eu-west-1"), setp(TOPIC, region="us-east-1"), unlink(TOPIC, "kmsMasterKeyId"),
                      setp(TOPIC, kmsMasterKeyId="alias/alerts")), [(
        f"{U(TOPIC)} is encrypted with key 'alias/alerts', which is neither in this stack nor in externalKmsKeyArns, so the "
        f"pack cannot verify its policy; {KEY_TOPIC_EXPECTED}", U(TOPIC))], id="alias-only-in-another-region"),
    pytest.param(both(with_alias(None), unlink(TOPIC, "kmsMasterKeyId"), setp(TOPIC, kmsMasterKeyId="alias/alerts")), [],
                 id="alias-in-the-topic-region"),
    *[pytest.param(setp(KEY, **{prop: k.UNKNOWN}), [(
        f"{U(KEY)} has {prop} unknown during preview, so the pack cannot verify that the key of {U(TOPIC)} can encrypt its "
        f"messages; expected a value known at preview (set it literally or leave it out), "
        + UNKNOWN_TAIL.format(policy="alarm-topic-key-usable"), U(KEY))], id=f"key-{prop}-unknown")
      for prop in ("isEnabled", "keyUsage", "customerMasterKeySpec")],
    # A TopicPolicy whose arn is computed from two topics could be this one's: its Deny is not dropped.
    pytest.param(both(with_topic_policy(DENY_PUBLISH), lambda s: s[TOPIC_POLICY_SPEC].links.update(arn=[TOPIC, KEY])), [
        (f"{U(TOPIC_POLICY_SPEC, TP_SPECS)} has arn unknown during preview, so the pack cannot verify whether it is the "
         f"policy of {U(TOPIC)}, which would keep {svc} from publishing for {who} because statement 'DenyPublish' of its "
         f"topic policy denies {svc} sns:Publish; expected a value known at preview (pass the topic's arn output alone), "
         + UNKNOWN_TAIL.format(policy="alarm-topic-key-usable"), U(TOPIC_POLICY_SPEC, TP_SPECS))
        for svc, who in ((CW, ALARMS), (EB, U("root-access-key-detection-root-create-access-key-alert")))],
        id="topic-policy-link-open"),
]


@pytest.mark.parametrize(("mutate", "expected"), KEY_PLACE_CASES)
def test_alarm_topic_key_usable_key_place_and_open_links(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(delivery.validate_alarm_topic_key_usable, mutate).messages) == expected


@pytest.mark.parametrize(("mutate", "expected"), KEY_CASES)
def test_alarm_topic_key_usable_changed_baseline_reports(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(delivery.validate_alarm_topic_key_usable, mutate).messages) == expected


ON_FAILURE = "root-access-key-audit-on-failure"
KEYS_ALARM = "root-access-key-audit-alarm-root-keys-active"
ERRORS_ALARM = "root-access-key-audit-alarm-errors"
FN_NAME = "root-access-key-audit-function-5566778"


def audit_alarm(name: str, metric: str, namespace: str, links: Optional[dict[str, list[str]]] = None, **props: Any) -> Mutation:
    """An alarm of the audit component as components/audit.py builds it: 1 of 1 datapoints >= 1, to the alert topic."""
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[name] = k.Spec("aws:cloudwatch/metricAlarm:MetricAlarm", name, {
            "name": f"{name}-1a2b3c4", "metricName": metric, "namespace": namespace, "statistic": "Maximum", "period": 7200,
            "evaluationPeriods": 1, "datapointsToAlarm": 1, "threshold": 1, "comparisonOperator": "GreaterThanOrEqualToThreshold",
            "treatMissingData": "missing", "actionsEnabled": True, "alarmActions": [k.UNKNOWN], "arn": k.UNKNOWN, **props,
        }, parent="root-access-key-audit", links={"alarmActions": [TOPIC], **(links or {})})
    return mutate


KEYS_ACTIVE = audit_alarm(KEYS_ALARM, "RootAccessKeysActive", k.NAMESPACE)
ERRORS = audit_alarm(ERRORS_ALARM, "Errors", "AWS/Lambda", statistic="Sum", period=300, treatMissingData="notBreaching",
                     dimensions={"FunctionName": FN_NAME})
AUDIT_ALARM_SPECS = k.baseline()
both(KEYS_ACTIVE, ERRORS)(AUDIT_ALARM_SPECS)


def audit_env(**variables: Any) -> Mutation:
    return setp(FN, environment={"variables": variables})


HUB_OFF = audit_env(AUDIT_SECURITY_HUB="false")
NO_ON_FAILURE = drop(ON_FAILURE)
UNREPORTED = (
    f"{U(FN)} is not shown to report its findings to anyone; expected AUDIT_SECURITY_HUB true, AUDIT_SNS_TOPIC_ARN "
    f"naming a topic in its region with a subscription, or an alarm on {{namespace}}/RootAccessKeysActive in its region "
    f"that notifies such a topic.")
UNALARMED = (
    f"{U(FN)} is not shown to alert anyone when an audit run fails; expected an alarm on AWS/Lambda Errors with its "
    f"FunctionName dimension in its region that notifies the alert topic, or a FunctionEventInvokeConfig whose "
    f"onFailure destination is that topic.")
KEYS_EXPECTED = f"expected an alarm that one datapoint >= 1 of {k.NAMESPACE}/RootAccessKeysActive moves to ALARM and that notifies a subscribed topic."
ERRORS_EXPECTED = f"expected an alarm that one AWS/Lambda Errors datapoint of {U(FN)} moves to ALARM."


def unreported(namespace: str = k.NAMESPACE) -> tuple[str, str]:
    return (UNREPORTED.format(namespace=namespace), U(FN))


def keys_issue(message: str) -> tuple[str, str]:
    return (f"{U(KEYS_ALARM, AUDIT_ALARM_SPECS)} {message}", U(KEYS_ALARM, AUDIT_ALARM_SPECS))


def errors_issue(message: str) -> tuple[str, str]:
    return (f"{U(ERRORS_ALARM, AUDIT_ALARM_SPECS)} {message}", U(ERRORS_ALARM, AUDIT_ALARM_SPECS))


DELIVERED_CASES = [
    # What the audit reports reaches someone: Security Hub (on by default), a subscribed topic, or a keys-active alarm.
    pytest.param(audit_env(AUDIT_METRIC_NAMESPACE="Nowhere", AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=""), None,
                 [unreported("Nowhere")], id="silenced"),
    pytest.param(HUB_OFF, None, [unreported()], id="security-hub-off"),
    pytest.param(audit_env(AUDIT_SECURITY_HUB="true"), None, [], id="security-hub-on"),
    pytest.param(audit_env(AUDIT_SECURITY_HUB=k.UNKNOWN), None, [(
        f"{U(FN)} has environment variable AUDIT_SECURITY_HUB unknown during preview, so the pack cannot verify whether "
        f"the audit sends its findings to Security Hub; expected a value known at preview (set it from the literal config "
        f"value), " + UNKNOWN_TAIL.format(policy="audit-findings-delivered"), U(FN)), unreported()], id="security-hub-unknown"),
    pytest.param(audit_env(AUDIT_SECURITY_HUB=k.UNKNOWN), {"allowUnknownValues": True}, [], id="security-hub-unknown-relaxed"),
    pytest.param(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.TOPIC_ARN), None, [], id="topic-by-arn"),
    pytest.param(both(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.UNKNOWN), lambda s: s[FN].links.update(environment=[TOPIC])),
                 None, [], id="topic-linked"),
    pytest.param(both(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.TOPIC_ARN), drop(SUB)), None, [(
        f"{U(FN)} alerts through AUDIT_SNS_TOPIC_ARN '{k.TOPIC_ARN}', which has no subscription and is not listed in "
        f"externalTopicArns; expected a topic with a subscriber.", U(FN)), unreported()], id="topic-without-subscriber"),
    pytest.param(both(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN=k.TOPIC_ARN.replace(k.REGION, "eu-west-1")),
                      in_region(k.REGION, FN)), None, [(
        f"{U(FN)} is in region 'us-east-1' but its AUDIT_SNS_TOPIC_ARN topic is in 'eu-west-1', and the pack cannot show "
        f"the audit can publish there; expected the alert topic in the function's region.", U(FN)), unreported()],
        id="topic-other-region"),
    pytest.param(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_SNS_TOPIC_ARN="arn:aws:sns:us-east-1:999988887777:central-alerts"),
                 {"externalTopicArns": ["arn:aws:sns:us-east-1:999988887777:central-alerts"]}, [], id="topic-external-listed"),
    pytest.param(both(HUB_OFF, KEYS_ACTIVE), None, [], id="keys-active-alarm"),
    pytest.param(both(audit_env(AUDIT_SECURITY_HUB="false", AUDIT_METRIC_NAMESPACE="Nowhere"), KEYS_ACTIVE), None,
                 [unreported("Nowhere")], id="keys-active-alarm-other-namespace"),
    pytest.param(both(HUB_OFF, audit_alarm(KEYS_ALARM, "RootAccessKeysActive", k.NAMESPACE, threshold=2)), None, [
        keys_issue(f"needs Maximum >= 2 but one matching event can give 1, so a single event does not fire it; {KEYS_EXPECTED}"),
        unreported()], id="keys-active-alarm-threshold-2"),
    pytest.param(both(HUB_OFF, audit_alarm(KEYS_ALARM, "RootAccessKeysActive", k.NAMESPACE, dimensions={"AccountId": k.ACCOUNT})), None, [
        keys_issue(f"watches dimensions {{'AccountId': '{k.ACCOUNT}'}} but {U(FN)} publishes {{}}; {KEYS_EXPECTED}"),
        unreported()], id="keys-active-alarm-one-account"),
    pytest.param(both(HUB_OFF, KEYS_ACTIVE, drop(SUB)), None, [
        keys_issue(f"notifies no topic with a subscription; {KEYS_EXPECTED}"), unreported()], id="keys-active-alarm-no-subscriber"),
    # A failed run notifies: the on-failure destination (baseline), or an alarm on the function's Errors.
    pytest.param(NO_ON_FAILURE, None, [(UNALARMED, U(FN))], id="no-failure-alert"),
    pytest.param(both(NO_ON_FAILURE, ERRORS), None, [], id="errors-alarm"),
    pytest.param(both(NO_ON_FAILURE, audit_alarm(ERRORS_ALARM, "Errors", "AWS/Lambda", links={"dimensions": [FN]}, statistic="Sum",
                                                 period=300, dimensions={"FunctionName": k.UNKNOWN})), None, [], id="errors-alarm-linked"),
    pytest.param(both(NO_ON_FAILURE, audit_alarm(ERRORS_ALARM, "Errors", "AWS/Lambda", statistic="Sum", period=300,
                                                 dimensions={"FunctionName": "other-function"})), None, [(UNALARMED, U(FN))],
                 id="errors-alarm-other-function"),
    pytest.param(both(NO_ON_FAILURE, ERRORS, in_region("eu-west-1", ERRORS_ALARM)), None, [
        errors_issue(f"is in region 'eu-west-1' but {U(FN)} publishes the metric in 'the default provider region', and the "
                     f"pack cannot tell that they are the same (set the region on both or on neither); {ERRORS_EXPECTED}"),
        (UNALARMED, U(FN))], id="errors-alarm-other-region"),
    pytest.param(both(NO_ON_FAILURE, ERRORS, setp(ERRORS_ALARM, actionsEnabled=False)), None, [
        errors_issue(f"has actionsEnabled false, so it notifies nobody; {ERRORS_EXPECTED}"), (UNALARMED, U(FN))],
        id="errors-alarm-actions-disabled"),
    pytest.param(setp(ON_FAILURE, qualifier="live"), None, [(
        f"{U(ON_FAILURE)} applies only to qualifier 'live' of {U(FN)}, which the schedule does not invoke; expected no "
        f"qualifier.", U(ON_FAILURE)), (UNALARMED, U(FN))], id="on-failure-qualified"),
    # The schedule invokes alias 'live': its failures get the alias's invoke config, not the function's.
    pytest.param(both(unlink(TARGET, "arn"), setp(TARGET, arn=f"{FN_ARN}:live")), None, [(
        f"{U(ON_FAILURE)} applies only to the unqualified function of {U(FN)}, which the schedule does not invoke; "
        f"expected 'live'.", U(ON_FAILURE)), (UNALARMED, U(FN))], id="on-failure-unqualified-schedule-invokes-alias"),
    pytest.param(both(unlink(TARGET, "arn"), setp(TARGET, arn=f"{FN_ARN}:live"), setp(ON_FAILURE, qualifier="live")), None, [],
                 id="on-failure-for-the-invoked-alias"),
    # $LATEST is the unqualified function by another name.
    pytest.param(both(unlink(TARGET, "arn"), setp(TARGET, arn=f"{FN_ARN}:$LATEST")), None, [], id="on-failure-schedule-invokes-latest"),
    # Lambda publishes Errors (0 on success) on every run: ignoring missing data still leaves the next failure a
    # state change, unlike a metric filter's alarm.
    pytest.param(both(NO_ON_FAILURE, ERRORS, setp(ERRORS_ALARM, treatMissingData="ignore")), None, [], id="errors-alarm-ignores-missing-data"),
    pytest.param(both(unlink(ON_FAILURE, "destinationConfig"), setp(ON_FAILURE, destinationConfig={"onFailure": {"destination": "arn:aws:sqs:us-east-1:111122223333:dlq"}})),
                 None, [(
        f"{U(ON_FAILURE)} sends failed runs of {U(FN)} to 'arn:aws:sqs:us-east-1:111122223333:dlq', which is neither a "
        f"topic in this stack nor listed in externalTopicArns; expected the alert SNS topic as the onFailure destination.",
        U(ON_FAILURE)), (UNALARMED, U(FN))], id="on-failure-queue"),
    pytest.param(unlink(ON_FAILURE, "destinationConfig"), None, [(
        f"{U(ON_FAILURE)} has destinationConfig unknown during preview, so the pack cannot verify where failed audit runs "
        f"go; expected a value known at preview (pass the topic's arn output alone), "
        + UNKNOWN_TAIL.format(policy="audit-findings-delivered"), U(ON_FAILURE)), (UNALARMED, U(FN))], id="on-failure-unlinked"),
]


@pytest.mark.parametrize(("mutate", "config", "expected"), DELIVERED_CASES)
def test_audit_findings_delivered_changed_baseline_reports(mutate: Mutation, config: Any, expected: list[Any]) -> None:
    assert list(outcome(audit.validate_audit_findings_delivered, mutate, config).messages) == expected
