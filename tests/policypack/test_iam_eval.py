"""The SCP analyser on a corpus: equivalent deny-root-keys documents accepted, weakened ones rejected with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rootkey_pack.iam_eval import (
    PROBE_ACCOUNTS,
    arn_match,
    glob_match,
    mentions_create_access_key,
    root_access_key_denial,
    validate_scp,
)

ROOT = "arn:aws:iam::*:root"


def doc(*statements: dict[str, Any], as_object: bool = False) -> str:
    body: Any = statements[0] if as_object and len(statements) == 1 else list(statements)
    return json.dumps({"Version": "2012-10-17", "Statement": body})


def deny(**overrides: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "DenyRootKeys",
        "Effect": "Deny",
        "Action": "iam:CreateAccessKey",
        "Resource": "*",
        "Condition": {"ArnLike": {"aws:PrincipalArn": ROOT}},
    }
    for key, value in overrides.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return statement


EQUIVALENT = {
    "control-tower-arnlike-list": doc(deny(Resource=["*"], Condition={"ArnLike": {"aws:PrincipalArn": [ROOT]}})),
    "stringlike": doc(deny(Condition={"StringLike": {"aws:PrincipalArn": ROOT}})),
    "statement-object": doc(deny(), as_object=True),
    "iam-wildcard": doc(deny(Action="iam:*")),
    "all-actions": doc(deny(Action="*")),
    "action-case-variant": doc(deny(Action="IAM:createaccesskey")),
    "action-glob": doc(deny(Action="iam:Create*Key")),
    "action-question-mark": doc(deny(Action="iam:CreateAccess?ey")),
    "action-list": doc(deny(Action=["s3:DeleteBucket", "iam:CreateAccessKey"])),
    "notaction-other": doc(deny(Action=None, NotAction=["s3:*", "ec2:*"])),
    "condition-key-case": doc(deny(Condition={"ArnLike": {"AWS:principalarn": ROOT}})),
    "arnequals-wildcard": doc(deny(Condition={"ArnEquals": {"aws:PrincipalArn": ROOT}})),
    "partition-wildcard": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:*:iam::*:root"}})),
    "account-question-marks": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::????????????:root"}})),
    "ifexists": doc(deny(Condition={"ArnLikeIfExists": {"aws:PrincipalArn": ROOT}})),
    "foranyvalue": doc(deny(Condition={"ForAnyValue:StringLike": {"aws:PrincipalArn": [ROOT, "arn:aws:iam::*:role/break-glass"]}})),
    "forallvalues": doc(deny(Condition={"ForAllValues:ArnLike": {"aws:PrincipalArn": ROOT}})),
    "policy-variable": doc(deny(Condition={"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:root"}})),
    "no-condition-denies-everyone": doc(deny(Condition=None)),
    "null-check": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "Null": {"aws:PrincipalArn": "false"}})),
    "not-like-other": doc(deny(Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})),
    "resource-iam-wildcard": doc(deny(Resource="arn:aws:iam::*:*")),
    "resource-root-arn": doc(deny(Resource=ROOT)),
    "notresource-other": doc(deny(Resource=None, NotResource="arn:aws:s3:::*")),
    "second-statement-denies": doc({"Sid": "Other", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}, deny()),
    "with-allow-all": doc({"Effect": "Allow", "Action": "*", "Resource": "*"}, deny()),
}

S = "statement 'DenyRootKeys'"
LONG = doc(*([{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*", "Sid": "Padding" + "x" * 40}] * 60), deny())
WEAKENED = {
    "allow": (doc(deny(Effect="Allow")), f"{S} is an Allow statement, which cannot deny anything in an SCP"),
    "wrong-action": (doc(deny(Action="iam:CreateUser")), f"{S} has an Action that does not cover iam:CreateAccessKey"),
    "wrong-service-glob": (doc(deny(Action="s3:*")), f"{S} has an Action that does not cover iam:CreateAccessKey"),
    "notaction-excludes": (doc(deny(Action=None, NotAction="iam:*")), f"{S} has a NotAction that excludes iam:CreateAccessKey"),
    "string-equals-wildcard": (doc(deny(Condition={"StringEquals": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition StringEquals on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "stringlike-wrong-case": (doc(deny(Condition={"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:ROOT"}})),
        f"{S} has a condition StringLike on aws:PrincipalArn 'arn:aws:iam::*:ROOT' that is false for the root principal arn:aws:iam::000000000000:root"),
    "mfa-condition": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})),
        f"{S} has a condition 'BoolIfExists' on key 'aws:MultiFactorAuthPresent' that could be false for the root user"),
    "region-condition": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "StringEquals": {"aws:RequestedRegion": "eu-west-1"}})),
        f"{S} has a condition 'StringEquals' on key 'aws:RequestedRegion' that could be false for the root user"),
    "notresource-root": (doc(deny(Resource=None, NotResource=ROOT)),
        f"{S} has a NotResource that excludes the root user arn:aws:iam::000000000000:root"),
    "resource-users-only": (doc(deny(Resource="arn:aws:iam::*:user/*")),
        f"{S} has a Resource that does not cover the root user arn:aws:iam::000000000000:root"),
    "principal-element": (doc(deny(Principal="*")), "the document has statement 'DenyRootKeys' with a Principal element, which SCPs do not support, so AWS rejects it"),
    "condition-not-root": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::*:role/*' that is false for the root principal arn:aws:iam::000000000000:root"),
    "condition-negated-root": (doc(deny(Condition={"ArnNotLike": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "one-account-only": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::111122223333:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "account-prefix": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::9*:root"}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::9*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "account-digit-anywhere": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*0*:root"}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::*0*:root' that is false for the root principal arn:aws:iam::111111111111:root"),
    "arnlike-too-few-components": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::*' that is false for the root principal arn:aws:iam::000000000000:root"),
    "unknown-operator": (doc(deny(Condition={"ArnLikeButNot": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition operator 'ArnLikeButNot' on key 'aws:PrincipalArn' that the pack cannot prove true for the root user"),
    "unresolvable-variable": (doc(deny(Condition={"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::${aws:username}:root"}})),
        f"{S} uses a policy variable the pack cannot resolve in 'arn:aws:iam::${{aws:username}}:root' under 'StringEquals'"),
    "null-true": (doc(deny(Condition={"Null": {"aws:PrincipalArn": "true"}})),
        f"{S} has a condition Null on aws:PrincipalArn 'true' that is false for the root principal arn:aws:iam::000000000000:root"),
    "malformed-condition": (doc(deny(Condition={"ArnLike": "arn:aws:iam::*:root"})), f"{S} has a malformed condition block under 'ArnLike'"),
    "lowercase-effect": (doc(deny(Effect="deny")), "the document has statement 'DenyRootKeys' with Effect 'deny' (only \"Allow\" or \"Deny\" is valid), so AWS rejects it"),
    "no-resource": (doc(deny(Resource=None)), "the document has statement 'DenyRootKeys' with neither Resource nor NotResource (exactly one is required), so AWS rejects it"),
    "not-json": ("{'Statement': []}", "the document is not valid JSON (JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    "empty-statement": (json.dumps({"Version": "2012-10-17", "Statement": []}), "the document has no Statement (an object or a non-empty list is required)"),
    "too-long": (LONG, f"the document is {len(LONG)} characters long, over the 5120-character SCP limit, so AWS rejects it"),
}


@pytest.mark.parametrize("text", EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_root_access_key_denial_equivalent_document_denies(text: str) -> None:
    verdict = root_access_key_denial(text)
    assert (verdict.denies, verdict.explanation) == (True, "")


@pytest.mark.parametrize(("text", "reason"), WEAKENED.values(), ids=WEAKENED.keys())
def test_root_access_key_denial_weakened_document_explained(text: str, reason: str) -> None:
    verdict = root_access_key_denial(text)
    assert (verdict.denies, verdict.explanation) == (False, reason)


def test_root_access_key_denial_prefers_statement_meant_for_the_action() -> None:
    text = doc({"Sid": "Other", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}, deny(Condition={"StringEquals": {"aws:PrincipalArn": ROOT}}))
    assert root_access_key_denial(text).explanation.startswith("statement 'DenyRootKeys' has a condition StringEquals")


def test_root_access_key_denial_non_string_document_rejected() -> None:
    assert root_access_key_denial({"Statement": []}).explanation == "the document is a dict, not a JSON string"


def test_probe_accounts_cover_every_digit() -> None:
    assert sorted({a[0] for a in PROBE_ACCOUNTS}) == [str(d) for d in range(10)]
    assert all(len(a) == 12 and len(set(a)) == 1 for a in PROBE_ACCOUNTS)


@pytest.mark.parametrize(("pattern", "value", "ignore_case", "expected"), [
    ("iam:*", "iam:CreateAccessKey", True, True),
    ("IAM:CREATE*", "iam:CreateAccessKey", True, True),
    ("IAM:CREATE*", "iam:CreateAccessKey", False, False),
    ("a?c", "abc", False, True),
    ("a?c", "ac", False, False),
    ("a.c", "abc", False, False),
    ("[ab]", "a", False, False),
])
def test_glob_match_iam_wildcards(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert glob_match(pattern, value, ignore_case=ignore_case) is expected


@pytest.mark.parametrize(("pattern", "arn", "expected"), [
    ("arn:aws:iam::*:root", "arn:aws:iam::123456789012:root", True),
    ("arn:aws:iam::*", "arn:aws:iam::123456789012:root", False),
    ("arn:aws:iam::*:*", "arn:aws:iam::123456789012:role/a:b", True),
    ("arn:aws:iam::1*:root", "arn:aws:iam::123456789012:root", True),
])
def test_arn_match_component_wise(pattern: str, arn: str, expected: bool) -> None:
    assert arn_match(pattern, arn) is expected


def test_validate_scp_accepts_reference_document() -> None:
    assert validate_scp(EQUIVALENT["control-tower-arnlike-list"]) == []


def test_validate_scp_reports_every_problem() -> None:
    text = json.dumps({"Version": "2020-01-01", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "NotAction": "s3:*", "Resource": "*"}]})
    assert validate_scp(text) == [
        "has Version '2020-01-01' (expected \"2012-10-17\")",
        "has statement #1 with a Principal element, which SCPs do not support",
        "has statement #1 with both Action and NotAction (exactly one is required)",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    (EQUIVALENT["iam-wildcard"], False),
    (EQUIVALENT["stringlike"], True),
    (doc(deny(Action=["s3:*", "IAM:CreateAccessKey"])), True),
    ("not json", False),
])
def test_mentions_create_access_key_literal_mentions_only(text: str, expected: bool) -> None:
    assert mentions_create_access_key(text) is expected


def test_mentions_create_access_key_ignores_allow_list_scps() -> None:
    allow_list = doc({"Effect": "Allow", "Action": ["iam:CreateAccessKey", "s3:*"], "Resource": "*"})
    assert mentions_create_access_key(allow_list) is False
