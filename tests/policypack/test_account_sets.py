"""The exact SCP decision against brute force: on small account alphabets and lengths every account can be
enumerated and judged by the request-by-request evaluator, and the decision-diagram answer must agree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rootkey_pack.account_sets import TooComplex, Universe, glob_tokens
from rootkey_pack.iam_eval import (
    ACCOUNT_SYMBOL,
    Request,
    evaluate_statement,
    glob_match,
    parse_document,
    root_access_key_denial,
    statement_denied_accounts,
)

settings.register_profile("exact", max_examples=300, deadline=None)

universes = st.sampled_from([("01", 1), ("01", 3), ("01", 4), ("012", 2), ("012", 3), ("0123", 2)])


def account_glob(alphabet: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(list(alphabet) + ["*", "?", "*", ":", "x"]), max_size=6).map("".join)


@settings(settings.get_profile("exact"))
@given(universes.flatmap(lambda u: st.tuples(st.just(u), account_glob(u[0]), st.sampled_from(["", "ab:", "arn:aws:iam::"]),
                                             st.sampled_from(["", ":root", "1"]), st.booleans())))
def test_account_sets_matching_agrees_with_brute_force(case: tuple[tuple[str, int], str, str, str, bool]) -> None:
    (alphabet, length), pattern, before, after, literal = case
    universe = Universe(alphabet, length)
    node = universe.matching(glob_tokens(pattern, wildcards=not literal), before, after)
    for account in universe.every_account():
        text = before + account + after
        expected = text == pattern if literal else glob_match(pattern, text, ignore_case=False)
        assert universe.member(node, account) is expected, account


@settings(settings.get_profile("exact"))
@given(universes, st.lists(st.tuples(st.sampled_from(["or", "and", "not"]), st.integers(0, 5)), max_size=8), st.data())
def test_account_sets_operations_agree_with_brute_force(u: tuple[str, int], ops: list[tuple[str, int]], data: st.DataObject) -> None:
    alphabet, length = u
    universe = Universe(alphabet, length)
    patterns = data.draw(st.lists(account_glob(alphabet), min_size=1, max_size=6))
    nodes = [universe.matching(glob_tokens(p), "", "") for p in patterns]
    sets = [{a for a in universe.every_account() if glob_match(p, a, ignore_case=False)} for p in patterns]
    everything = set(universe.every_account())
    for op, index in ops:
        i = index % len(nodes)
        if op == "not":
            nodes.append(universe.negate(nodes[i]))
            sets.append(everything - sets[i])
        else:
            j = (index + 1) % len(nodes)
            nodes.append(universe.union(nodes[i], nodes[j]) if op == "or" else universe.intersect(nodes[i], nodes[j]))
            sets.append(sets[i] | sets[j] if op == "or" else sets[i] & sets[j])
    for node, expected in zip(nodes, sets, strict=True):
        assert {a for a in everything if universe.member(node, a)} == expected
        outside = sorted(everything - expected, key=lambda a: [alphabet.index(c) for c in a])
        assert universe.smallest_outside(node) == (outside[0] if outside else None)


CONDITION_OPS = ["ArnLike", "ArnNotLike", "StringLike", "StringNotLike", "StringEquals", "StringNotEquals",
                 "StringEqualsIgnoreCase", "ArnEquals", "ArnNotEquals", "ForAnyValue:StringLike", "ForAllValues:ArnNotLike",
                 "StringNotLikeIfExists", "Null", "Bool"]
CONDITION_KEYS = ["aws:PrincipalArn", "aws:PrincipalAccount", "aws:userid", "aws:ResourceAccount", "aws:PrincipalType",
                  "aws:PrincipalIsAWSService", "aws:PrincipalOrgID"]


def condition_value(alphabet: str) -> st.SearchStrategy[Any]:
    glob = account_glob(alphabet)
    one = st.one_of(
        glob.map(lambda g: f"arn:aws:iam::{g}:root"),
        glob,
        st.sampled_from(["*", "Account", "false", "true", "arn:aws:iam::${aws:PrincipalAccount}:root",
                         "${aws:userid}", "${aws:PrincipalAccount}1", "arn:*:iam::*:root", "*:root"]),
    )
    return st.one_of(one, st.lists(one, min_size=1, max_size=3))


def statement(alphabet: str) -> st.SearchStrategy[dict[str, Any]]:
    resource = st.one_of(st.just("*"), account_glob(alphabet).map(lambda g: f"arn:aws:iam::{g}:root"),
                         st.just("arn:aws:iam::${aws:PrincipalAccount}:root"))
    return st.fixed_dictionaries(
        {"Effect": st.sampled_from(["Deny", "Deny", "Allow"]),
         "Action": st.sampled_from(["iam:CreateAccessKey", "*", "iam:Create*", "s3:*"]),
         "Resource": st.one_of(resource, st.lists(resource, min_size=1, max_size=3))},
        optional={"Condition": st.dictionaries(st.sampled_from(CONDITION_OPS),
                                               st.dictionaries(st.sampled_from(CONDITION_KEYS), condition_value(alphabet), min_size=1, max_size=2),
                                               max_size=3)},
    ).flatmap(lambda s: st.sampled_from([s, {**{k: v for k, v in s.items() if k != "Resource"}, "NotResource": s["Resource"]}]))


@settings(settings.get_profile("exact"))
@given(universes.flatmap(lambda u: st.tuples(st.just(u), st.lists(statement(u[0]), min_size=1, max_size=4),
                                             st.sampled_from(["2012-10-17", "2008-10-17"]))))
def test_root_access_key_denial_exact_agrees_with_brute_force(case: tuple[tuple[str, int], list[dict[str, Any]], str]) -> None:
    (alphabet, length), statements, version = case
    universe = Universe(alphabet, length)
    text = json.dumps({"Version": version, "Statement": statements})
    parsed = parse_document(text)
    variables = version == "2012-10-17"
    symbolic = Request.root_create_access_key(ACCOUNT_SYMBOL, policy_variables=variables)
    undenied = []
    for account in universe.every_account():
        request = Request.root_create_access_key(account, policy_variables=variables)
        applies = [evaluate_statement(s, request).applies for s in parsed.statements]
        for s, expected in zip(parsed.statements, applies, strict=True):
            assert universe.member(statement_denied_accounts(s, universe, symbolic), account) is expected, (s.label, account)
        if not any(applies):
            undenied.append(account)
    verdict = root_access_key_denial(text, universe=universe)
    assert verdict.denies is (not undenied)


@settings(settings.get_profile("exact"))
@given(st.lists(statement("0123456789"), min_size=1, max_size=5))
def test_root_access_key_denial_twelve_digits_never_crashes(statements: list[dict[str, Any]]) -> None:
    verdict = root_access_key_denial(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    assert verdict.denies is (verdict.explanation == "")


def test_account_sets_node_budget_is_a_verdict_not_a_pass() -> None:
    universe = Universe(max_nodes=50)
    with pytest.raises(TooComplex):
        universe.matching(glob_tokens("*1*2*3*4*5*"), "", "")


def test_root_access_key_denial_too_intricate_fails_closed() -> None:
    exemptions = [f"arn:aws:iam::*{a}*{b}*{c}*:root" for a, b, c in ("123", "456", "789", "147", "258", "369")]
    text = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*",
                       "Condition": {"ArnNotLike": {"aws:PrincipalArn": exemptions}}}]})
    verdict = root_access_key_denial(text, universe=Universe(max_nodes=500))
    assert (verdict.denies, verdict.explanation) == (False, "its account patterns are too intricate for the pack to decide "
                                                            "(more than 500 decision-diagram nodes); simplify the conditions")


def test_root_access_key_denial_control_character_rejected() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateAccessKey",
                       "Resource": "*", "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::\u0003:root"}}}]})
    assert root_access_key_denial(text).explanation == (
        "the document contains a control character (U+0000 to U+0003) that the pack does not evaluate")
