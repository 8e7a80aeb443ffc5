"""Where the deny-root-keys SCP is attached: an attachment to the management account has no effect (SCPs never
apply there), so it does not count; when the target is an account id, the pack must know the management account
(policy config, or an Organization in the stack with a known masterAccountId), or it fails closed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rootkey_pack.policies import prevention

from tests.policypack import stackkit as k
from tests.policypack.test_stack_policies import ATTACH, UNKNOWN_TAIL, U, Mutation, both, outcome, setp

MANAGEMENT = "111122223333"
MEMBER = "444455556666"
ORG = "organization"


def add_org(master: Any) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[ORG] = k.Spec("aws:organizations/organization:Organization", ORG, {
            "featureSet": "ALL", "enabledPolicyTypes": ["SERVICE_CONTROL_POLICY"], "masterAccountId": master})

    return mutate


def add_unit(specs: dict[str, k.Spec]) -> None:
    specs["security-ou"] = k.Spec("aws:organizations/organizationalUnit:OrganizationalUnit", "security-ou",
                                  {"name": "Security", "parentId": "r-a1b2", "id": k.UNKNOWN})


def target_from(*names: str) -> Mutation:
    def mutate(specs: dict[str, k.Spec]) -> None:
        specs[ATTACH].props["targetId"] = k.UNKNOWN
        specs[ATTACH].links["targetId"] = list(names)

    return mutate


ON_MANAGEMENT = (
    f"{U(ATTACH)} attaches the SCP to the organization's management account {MANAGEMENT}, where SCPs never apply; "
    f"expected the organization root, an OU or a member account.", U(ATTACH))
UNKNOWABLE = (
    f"{U(ATTACH)} attaches the SCP to account {MEMBER}, and the pack cannot tell whether that is the organization's "
    f"management account, where SCPs never apply; expected managementAccountId in the 'root-access-key-creation-denied' "
    f"policy config (or an aws:organizations/organization:Organization in this stack with a known masterAccountId).", U(ATTACH))
UNKNOWN_TARGET = (
    f"{U(ATTACH)} has targetId unknown during preview, so the pack cannot verify that it attaches the SCP where it "
    f"applies (not the management account); expected a value known at preview (pass the root, OU or account id "
    f"literally, or an OU's or member account's id output), " + UNKNOWN_TAIL.format(policy="root-access-key-creation-denied"), U(ATTACH))

CASES = [
    pytest.param(setp(ATTACH, targetId=MANAGEMENT), {"managementAccountId": MANAGEMENT}, [ON_MANAGEMENT], id="management-by-config"),
    pytest.param(both(add_org(MANAGEMENT), setp(ATTACH, targetId=MANAGEMENT)), None, [ON_MANAGEMENT], id="management-by-organization"),
    pytest.param(setp(ATTACH, targetId=MEMBER), {"managementAccountId": MANAGEMENT}, [], id="member-account-by-config"),
    pytest.param(both(add_org(MANAGEMENT), setp(ATTACH, targetId=MEMBER)), None, [], id="member-account-by-organization"),
    pytest.param(setp(ATTACH, targetId=MEMBER), None, [UNKNOWABLE], id="account-management-unknowable"),
    pytest.param(both(add_org(k.UNKNOWN), setp(ATTACH, targetId=MEMBER)), None, [UNKNOWABLE], id="account-organization-master-unknown"),
    pytest.param(setp(ATTACH, targetId="ou-a1b2-abcdefgh"), None, [], id="ou-literal"),
    pytest.param(both(add_unit, target_from("security-ou")), None, [], id="ou-output"),
    pytest.param(both(add_org(MANAGEMENT), target_from(ORG)), None, [UNKNOWN_TARGET], id="organization-output-ambiguous"),
    pytest.param(both(add_org(MANAGEMENT), target_from(ORG)), {"allowUnknownValues": True}, [], id="organization-output-relaxed"),
    pytest.param(target_from(), None, [UNKNOWN_TARGET], id="unknown-unlinked"),
    pytest.param(None, {"managementAccountId": "12345"}, [(
        "The 'root-access-key-creation-denied' policy config is invalid: policy config key 'managementAccountId' is "
        "'12345'; expected a 12-digit AWS account id (or \"\" for none).", None)], id="bad-config"),
]


@pytest.mark.parametrize(("mutate", "config", "expected"), CASES)
def test_root_access_key_creation_denied_attachment_target_judged(mutate: Mutation, config: Any, expected: list[Any]) -> None:
    assert list(outcome(prevention.validate_root_access_key_creation_denied, mutate, config).messages) == expected


def test_root_access_key_creation_denied_second_attachment_to_root_still_counts() -> None:
    def add_second(specs: dict[str, k.Spec]) -> None:
        specs["second"] = k.Spec("aws:organizations/policyAttachment:PolicyAttachment", "second",
                                 {"policyId": k.UNKNOWN, "targetId": MANAGEMENT}, parent="deny-root-access-keys",
                                 links={"policyId": ["deny-root-access-keys-scp"]})

    assert outcome(prevention.validate_root_access_key_creation_denied, add_second, {"managementAccountId": MANAGEMENT}).messages == ()


def _split_scp(specs: dict[str, k.Spec], *, second_target: str = "r-a1b2", second_covers: str = "arn:aws:iam::1*:root") -> None:
    """The deny split over two SCPs: the baseline one for every account but 1*, a second one for 1*."""
    first = json.loads(json.dumps(k.SCP_DOCUMENT))
    first["Statement"][0]["Condition"]["ArnNotLike"] = {"aws:PrincipalArn": "arn:aws:iam::1*:root"}
    specs["deny-root-access-keys-scp"].props["content"] = json.dumps(first)
    second = json.loads(json.dumps(k.SCP_DOCUMENT))
    second["Statement"][0]["Condition"] = {"ArnLike": {"aws:PrincipalArn": second_covers}}
    specs["second-scp"] = k.Spec("aws:organizations/policy:Policy", "second-scp", {
        "type": "SERVICE_CONTROL_POLICY", "content": json.dumps(second), "id": k.UNKNOWN, "arn": k.UNKNOWN})
    specs["second-attach"] = k.Spec("aws:organizations/policyAttachment:PolicyAttachment", "second-attach",
                                    {"policyId": k.UNKNOWN, "targetId": second_target}, links={"policyId": ["second-scp"]})


EXPECTED_SCP = ('expected a SERVICE_CONTROL_POLICY with a Deny statement for iam:CreateAccessKey on Resource "*" whose only '
                'condition is ArnLike/StringLike aws:PrincipalArn "arn:aws:iam::*:root".')
SECOND = "urn:pulumi:dev::root-key-guardrails::aws:organizations/policy:Policy::second-scp"
FIRST_PARTIAL = (
    f"{U('deny-root-access-keys-scp')} does not deny iam:CreateAccessKey to the root user of every account because statement "
    f"'DenyRootAccessKeyCreation' has a condition ArnNotLike on aws:PrincipalArn 'arn:aws:iam::1*:root' that is false for "
    f"the root principal arn:aws:iam::100000000000:root; {EXPECTED_SCP}", U("deny-root-access-keys-scp"))


def _second_partial(pattern: str) -> tuple[str, str]:
    return (f"{SECOND} does not deny iam:CreateAccessKey to the root user of every account because statement "
            f"'DenyRootAccessKeyCreation' has a condition ArnLike on aws:PrincipalArn '{pattern}' that is false for the "
            f"root principal arn:aws:iam::000000000000:root; {EXPECTED_SCP}", SECOND)


@pytest.mark.parametrize(("mutate", "expected"), [
    pytest.param(_split_scp, [], id="split-over-two-scps-same-target"),
    pytest.param(lambda s: _split_scp(s, second_target="ou-a1b2-abcdefgh"), [FIRST_PARTIAL, _second_partial("arn:aws:iam::1*:root")],
                 id="split-over-two-targets"),
    pytest.param(lambda s: _split_scp(s, second_covers="arn:aws:iam::12*:root"), [FIRST_PARTIAL, _second_partial("arn:aws:iam::12*:root")],
                 id="split-leaves-a-gap"),
])
def test_root_access_key_creation_denied_split_over_scps(mutate: Mutation, expected: list[Any]) -> None:
    assert list(outcome(prevention.validate_root_access_key_creation_denied, mutate).messages) == expected
