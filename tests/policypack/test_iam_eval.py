"""The SCP analyser on a corpus: equivalent deny-root-keys documents accepted, weakened ones rejected with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rootkey_pack.iam_eval import (
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
    "action-create-prefix": doc(deny(Action="iam:Create*")),
    "action-all-lowercase": doc(deny(Action="iam:createaccesskey")),
    "condition-key-upper-arn": doc(deny(Condition={"ArnLike": {"AWS:PrincipalARN": ROOT}})),
    "arn-list-with-non-matching": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": [ROOT, "arn:aws:iam::*:role/x"]}})),
    "forallvalues-notlike-role": doc(deny(Condition={"ForAllValues:ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})),
    "resource-policy-variable": doc(deny(Resource="arn:aws:iam::${aws:PrincipalAccount}:root")),
    "empty-condition": doc(deny(Condition={})),
    "allow-first-deny-object": json.dumps({"Version": "2012-10-17", "Statement": deny()}),
    "principal-type-account": doc(deny(Condition={"StringEquals": {"aws:PrincipalType": "Account"}})),
    "not-aws-service": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "Bool": {"aws:PrincipalIsAWSService": "false"}})),
    "not-aws-service-json-bool": doc(deny(Condition={"Bool": {"aws:PrincipalIsAWSService": False}})),
    "split-deny-two-statements": doc(deny(Sid="Ones", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1*:root"}}),
                                     deny(Sid="Rest", Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::1*:root"}})),
    "split-deny-by-last-digit": doc(*[deny(Sid=f"D{d}", Condition={"StringLike": {"aws:PrincipalAccount": f"*{d}"}}) for d in range(10)]),
    "split-deny-resource-and-condition": doc(deny(Sid="Even", Resource=[f"arn:aws:iam::*{d}:root" for d in "02468"], Condition=None),
                                             deny(Sid="Odd", Condition={"StringLike": {"aws:userid": ["*1", "*3", "*5", "*7", "*9"]}})),
    "padded-no-exemption": doc({"Sid": "Padding", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": [f"arn:aws:iam::{i:012d}:root" for i in range(100)]}, deny()),
    "resource-account-variable": doc(deny(Condition={"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}})),
    "every-leading-digit": doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{d}*:root" for d in range(10)]}})),
}

S = "statement 'DenyRootKeys'"
# 100 padding patterns in another statement once exhausted a probe budget; the exemption must still be found.
PADDED = doc(
    {"Sid": "Padding", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": [f"arn:aws:iam::{i:012d}:root" for i in range(100)]},
    deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::555566667777:root"}}),
)
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
    "notaction-list-includes-action": (doc(deny(Action=None, NotAction=["s3:*", "iam:CreateAccessKey"])),
        f"{S} has a NotAction that excludes iam:CreateAccessKey"),
    "notaction-lowercase": (doc(deny(Action=None, NotAction="iam:createaccesskey")), f"{S} has a NotAction that excludes iam:CreateAccessKey"),
    "notresource-star": (doc(deny(Resource=None, NotResource="*")),
        f"{S} has a NotResource that excludes the root user arn:aws:iam::000000000000:root"),
    "stringequalsifexists-wildcard": (doc(deny(Condition={"StringEqualsIfExists": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition StringEqualsIfExists on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "arnnotlikeifexists-root": (doc(deny(Condition={"ArnNotLikeIfExists": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition ArnNotLikeIfExists on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "foranyvalue-notlike-root": (doc(deny(Condition={"ForAnyValue:ArnNotLike": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition ForAnyValue:ArnNotLike on aws:PrincipalArn 'arn:aws:iam::*:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "forallvalues-other-key": (doc(deny(Condition={"ForAllValues:StringEquals": {"aws:PrincipalTag/team": "x"}})),
        f"{S} has a condition 'ForAllValues:StringEquals' on key 'aws:PrincipalTag/team' that could be false for the root user"),
    "stringequalsignorecase-wildcard": (doc(deny(Condition={"StringEqualsIgnoreCase": {"aws:PrincipalArn": "ARN:AWS:IAM::*:ROOT"}})),
        f"{S} has a condition StringEqualsIgnoreCase on aws:PrincipalArn 'ARN:AWS:IAM::*:ROOT' that is false for the root principal arn:aws:iam::000000000000:root"),
    "principal-type-user": (doc(deny(Condition={"StringEquals": {"aws:PrincipalType": "User"}})),
        f"{S} has a condition StringEquals on aws:PrincipalType 'User' that is false for the root principal arn:aws:iam::000000000000:root"),
    "is-aws-service-true": (doc(deny(Condition={"Bool": {"aws:PrincipalIsAWSService": "true"}})),
        f"{S} has a condition Bool on aws:PrincipalIsAWSService 'true' that is false for the root principal arn:aws:iam::000000000000:root"),
    "org-id-condition": (doc(deny(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})),
        f"{S} has a condition 'StringEquals' on key 'aws:PrincipalOrgID' that could be false for the root user"),
    "exempt-account-by-principal-account": (doc(deny(Condition={"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}})),
        f"{S} has a condition StringNotEquals on aws:PrincipalAccount '111122223333' that is false for the root principal arn:aws:iam::111122223333:root"),
    "exempt-account-by-userid": (doc(deny(Condition={"StringNotLike": {"aws:userid": "9999*"}})),
        f"{S} has a condition StringNotLike on aws:userid '9999*' that is false for the root principal arn:aws:iam::999900000000:root"),
    "padded-exemption": (PADDED, f"{S} has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::555566667777:root' that is false for the root principal arn:aws:iam::555566667777:root"),
    "split-deny-misses-prefix": (doc(deny(Sid="Ones", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1*:root"}}),
                                     deny(Sid="Rest", Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::1*:root"}, "StringNotLike": {"aws:PrincipalAccount": "2*"}})),
        "statement 'Ones' has a condition ArnLike on aws:PrincipalArn 'arn:aws:iam::1*:root' that is false for the root principal arn:aws:iam::200000000000:root"),
    "null-ifexists-invalid": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "NullIfExists": {"aws:PrincipalArn": "false"}})),
        f"{S} uses the invalid condition operator 'NullIfExists' (IfExists cannot qualify Null)"),
    "lowercase-operator": (doc(deny(Condition={"arnlike": {"aws:PrincipalArn": ROOT}})),
        f"{S} has a condition operator 'arnlike' on key 'aws:PrincipalArn' that the pack cannot prove true for the root user"),
    "variable-without-version": (json.dumps({"Statement": [deny(Condition={"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:root"}})]}),
        f"{S} has a condition StringEquals on aws:PrincipalArn 'arn:aws:iam::${{aws:PrincipalAccount}}:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "variable-version-2008": (json.dumps({"Version": "2008-10-17", "Statement": [deny(Condition={"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:root"}})]}),
        f"{S} has a condition StringEquals on aws:PrincipalArn 'arn:aws:iam::${{aws:PrincipalAccount}}:root' that is false for the root principal arn:aws:iam::000000000000:root"),
    "unsupported-version": (json.dumps({"Version": "2020-01-01", "Statement": [deny()]}),
        "the document has Version '2020-01-01' (expected \"2012-10-17\"), so AWS rejects it"),
    "duplicate-effect-key": ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"}]}',
        "the document repeats the key 'Effect' in one JSON object, which AWS may read differently from this pack"),
    "duplicate-operator-key": ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*", '
        '"Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}, "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]}',
        "the document repeats the key 'ArnLike' in one JSON object, which AWS may read differently from this pack"),
    "allow-only-mix": (doc(deny(Effect="Allow"), {"Effect": "Allow", "Action": "*", "Resource": "*"}),
        f"{S} is an Allow statement, which cannot deny anything in an SCP"),
    "exempt-one-account-arnnotlike": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}})),
        f"{S} has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::111122223333:root' that is false for the root principal arn:aws:iam::111122223333:root"),
    "exempt-one-account-stringnotequals": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "StringNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}})),
        f"{S} has a condition StringNotEquals on aws:PrincipalArn 'arn:aws:iam::111122223333:root' that is false for the root principal arn:aws:iam::111122223333:root"),
    "exempt-one-account-ignorecase": (doc(deny(Condition={"StringNotEqualsIgnoreCase": {"aws:PrincipalArn": "ARN:AWS:IAM::111122223333:ROOT"}})),
        f"{S} has a condition StringNotEqualsIgnoreCase on aws:PrincipalArn 'ARN:AWS:IAM::111122223333:ROOT' that is false for the root principal arn:aws:iam::111122223333:root"),
    "exempt-account-prefix": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::12*:root"}})),
        f"{S} has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::12*:root' that is false for the root principal arn:aws:iam::120000000000:root"),
    "exempt-account-glob-anywhere": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": ROOT}, "StringNotLike": {"aws:PrincipalArn": "*:1234567890??:*"}})),
        f"{S} has a condition StringNotLike on aws:PrincipalArn '*:1234567890??:*' that is false for the root principal arn:aws:iam::123456789000:root"),
    "notresource-one-account": (doc(deny(Resource=None, NotResource="arn:aws:iam::111122223333:root")),
        f"{S} has a NotResource that excludes the root user arn:aws:iam::111122223333:root"),
    "literal-uniform-accounts-only": (doc(deny(Condition={"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{str(i) * 12}:root" for i in range(10)]}})),
        f"{S} has a condition ArnLike on aws:PrincipalArn {[f'arn:aws:iam::{str(i) * 12}:root' for i in range(10)]!r} that is false for the root principal arn:aws:iam::000000000001:root"),
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


@pytest.mark.parametrize(("document", "expected"), [
    # Element names are case-sensitive: IAM rejects a statement with any other, and the pack does not rely on it.
    ({"Version": "2012-10-17", "Statement": [deny(condition={"Bool": {"aws:SecureTransport": "true"}})]},
     "has statement 'DenyRootKeys' with the element 'condition', which the policy grammar does not have (expected only Sid, Effect, "
     "Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"),
    ({"Version": "2012-10-17", "Statement": [deny(NotCondition={})]},
     "has statement 'DenyRootKeys' with the element 'NotCondition', which the policy grammar does not have (expected only Sid, Effect, "
     "Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"),
    ({"Version": None, "Statement": [deny()]}, "has Version None (expected \"2012-10-17\")"),
])
def test_validate_scp_refuses_what_iam_rejects(document: dict[str, Any], expected: str) -> None:
    text = json.dumps(document)
    assert validate_scp(text) == [expected]
    assert root_access_key_denial(text, "aws").denies is not True


@pytest.mark.parametrize(("text", "expected"), [
    (EQUIVALENT["iam-wildcard"], False),
    (EQUIVALENT["stringlike"], True),
    (doc(deny(Action=["s3:*", "IAM:CreateAccessKey"])), True),
    (doc(deny(Action="iam:Create*Key")), True),
    (doc(deny(Action="iam:*accesskey")), True),
    (doc(deny(Action=None, NotAction="iam:CreateAccess*")), True),
    (doc(deny(Action="iam:Create*")), False),
    (doc(deny(Action="iam:Delete*")), False),
    (doc(deny(Action="*")), False),
    ("not json", False),
])
def test_mentions_create_access_key_literal_mentions_only(text: str, expected: bool) -> None:
    assert mentions_create_access_key(text) is expected


def test_mentions_create_access_key_ignores_allow_list_scps() -> None:
    allow_list = doc({"Effect": "Allow", "Action": ["iam:CreateAccessKey", "s3:*"], "Resource": "*"})
    assert mentions_create_access_key(allow_list) is False
