"""The CloudWatch Logs filter-pattern analyser on a corpus, against the pack's sample CloudTrail events."""

from __future__ import annotations

import pytest
from rootkey_pack import samples
from rootkey_pack.filter_pattern import PatternError, matches, parse

ROOT_KEY = samples.ROOT_CREATE_ACCESS_KEY
DENIED = samples.ROOT_CREATE_ACCESS_KEY_DENIED
USER = samples.IAM_USER_CREATE_ACCESS_KEY
ROLE = samples.ASSUMED_ROLE_CREATE_ACCESS_KEY
LOGIN = samples.ROOT_CONSOLE_LOGIN
SERVICE = samples.ROOT_INVOKED_BY_SERVICE


def matched(pattern: str) -> set[str]:
    parsed = parse(pattern)
    return {name for name in samples.ALL_SAMPLES if matches(parsed, samples.load(name))}


# Patterns equivalent for the root CreateAccessKey filter: exactly which samples each one matches.
EQUIVALENT = {
    "program": ('{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") && ($.eventName = "CreateAccessKey") && ($.errorCode NOT EXISTS) }', {ROOT_KEY}),
    "compact-unquoted": ("{$.userIdentity.type=Root&&$.eventName=CreateAccessKey&&$.errorCode NOT EXISTS}", {ROOT_KEY}),
    "no-parentheses": ('{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" }', {ROOT_KEY, DENIED}),
    "nested-parentheses": ('{ (($.userIdentity.type = "Root") && (($.eventName = "CreateAccessKey"))) }', {ROOT_KEY, DENIED}),
    "wildcard-suffix": ('{ $.userIdentity.type = "Ro*" && $.eventName = "CreateAccess*" }', {ROOT_KEY, DENIED}),
    "wildcard-infix": ('{ $.userIdentity.arn = "arn:aws:iam::*:root" && $.eventName = CreateAccessKey }', {ROOT_KEY, DENIED}),
    "or-of-sources": ('{ $.userIdentity.type = "Root" && ($.eventName = "CreateAccessKey" || $.eventName = "ConsoleLogin") }', {ROOT_KEY, DENIED, LOGIN}),
    "is-false-readonly": ('{ $.userIdentity.type = "Root" && $.readOnly IS FALSE && $.eventName = "CreateAccessKey" }', {ROOT_KEY, DENIED}),
    "is-null-request": ('{ $.userIdentity.type = "Root" && $.requestParameters IS NULL && $.eventName = "CreateAccessKey" }', {ROOT_KEY, DENIED}),
    "response-exists": ('{ $.userIdentity.type = "Root" && $.responseElements.accessKey.status = "Active" }', {ROOT_KEY}),
    "error-code-absent-via-not-equal": ('{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.errorMessage NOT EXISTS }', {ROOT_KEY}),
    "array-free-exists": ('{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.responseElements.accessKey.accessKeyId EXISTS }', {ROOT_KEY}),
    "cis": ('{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }', {ROOT_KEY, DENIED, LOGIN}),
    "cis-unquoted-parenthesised": ("{ ($.userIdentity.type = Root) && ($.userIdentity.invokedBy NOT EXISTS) && ($.eventType != AwsServiceEvent) }", {ROOT_KEY, DENIED, LOGIN}),
    "terms": ('"CreateAccessKey" "arn:aws:iam::111122223333:root"', {ROOT_KEY, DENIED}),
    "term-exclusion": ("CreateAccessKey -AccessDenied", {ROOT_KEY, USER, ROLE}),
    "term-alternatives": ("?ConsoleLogin ?AccessDenied", {DENIED, LOGIN}),
}

WEAKENED = {
    "lowercase-root": ('{ $.userIdentity.type = "root" && $.eventName = "CreateAccessKey" }', set()),
    "lowercase-event": ('{ $.userIdentity.type = "Root" && $.eventName = "createaccesskey" }', set()),
    "any-principal": ('{ $.eventName = "CreateAccessKey" }', {ROOT_KEY, DENIED, USER, ROLE}),
    "denied-only": ('{ $.userIdentity.type = "Root" && $.eventName = "CreateAccessKey" && $.errorCode = "AccessDenied" }', {DENIED}),
    "or-instead-of-and": ('{ $.userIdentity.type = "Root" || $.eventName = "CreateAccessKey" }', {ROOT_KEY, DENIED, USER, ROLE, LOGIN, SERVICE}),
    "wrong-field": ('{ $.userIdentity.userName = "root" && $.eventName = "CreateAccessKey" }', set()),
    "iam-user-only": ('{ $.userIdentity.type = "IAMUser" && $.eventName = "CreateAccessKey" }', {USER}),
    "everything": ("", set(samples.ALL_SAMPLES)),
    "numeric-on-string": ('{ $.eventVersion > 1 }', set()),
    "not-equal-on-missing-field": ('{ $.userIdentity.type = "Root" && $.errorCode != "AccessDenied" }', set()),
}


@pytest.mark.parametrize(("pattern", "expected"), EQUIVALENT.values(), ids=EQUIVALENT.keys())
def test_matches_equivalent_pattern_samples(pattern: str, expected: set[str]) -> None:
    assert matched(pattern) == expected


@pytest.mark.parametrize(("pattern", "expected"), WEAKENED.values(), ids=WEAKENED.keys())
def test_matches_weakened_pattern_samples(pattern: str, expected: set[str]) -> None:
    assert matched(pattern) == expected


MALFORMED = {
    "unclosed-brace": ('{ $.eventName = "CreateAccessKey" ', "expected '}' at character 35"),
    "unclosed-paren": ('{ ($.eventName = "CreateAccessKey" }', "expected ')' at character 36"),
    "no-selector": ('{ eventName = "CreateAccessKey" }', "expected a property selector starting with '$' at character 3"),
    "empty-selector": ('{ $ = "x" }', "a selector must name a property, like $.eventName at character 4"),
    "no-operator": ("{ $.eventName CreateAccessKey }", "expected an operator (=, !=, <, >, <=, >=, IS, EXISTS, NOT EXISTS) after $.eventName at character 15"),
    "dangling-and": ('{ $.a = 1 && }', "expected a property selector starting with '$' at character 14"),
    "numeric-op-string": ('{ $.a > abc }', "'>' needs a number, got 'abc' at character 12"),
    "unterminated-string": ('{ $.a = "abc }', "unterminated quoted string at character 15"),
    "trailing-text": ('{ $.a = 1 } extra', "unexpected text after the closing '}' at character 13"),
    "lowercase-keyword": ("{ $.a is null }", "expected an operator (=, !=, <, >, <=, >=, IS, EXISTS, NOT EXISTS) after $.a at character 7"),
    "regex-value": ('{ $.eventName = %Create.*% }', "regular-expression values (%...%) are not evaluated by the pack at character 17"),
    "quoted-regex": ('{ $.eventName = "%Create.*%" }', "regular-expression values (%...%) are not evaluated by the pack at character 29"),
    "space-delimited": ("[ip, user, ...]", "space-delimited patterns ([...]) are not evaluated by the pack"),
    "alternatives-with-required": ("CreateAccessKey ?Root ?root", "mixing ?alternative terms with required or -excluded terms is not evaluated by the pack"),
    "alternatives-with-excluded": ("?CreateAccessKey -AssumedRole", "mixing ?alternative terms with required or -excluded terms is not evaluated by the pack"),
    "bad-index": ("{ $.a[x] = 1 }", "expected an array index like [0] at character 6"),
    "unquoted-term-symbols": ("arn:aws:iam::root", "term 'arn:aws:iam::root' has characters other than letters, digits or '_' and must be quoted"),
    "too-long": ("{ " + "$.a = 1 && " * 100 + "$.a = 1 }", "the pattern is 1111 characters long, over the 1024-character limit"),
}


@pytest.mark.parametrize(("pattern", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_parse_malformed_pattern_raises_pattern_error(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as info:
        parse(pattern)
    assert str(info.value) == message


def test_parse_non_string_pattern_raises_pattern_error() -> None:
    with pytest.raises(PatternError, match="^the pattern is a int, not a string$"):
        parse(42)


def test_matches_ambiguous_precedence_raises_pattern_error() -> None:
    # a || b && c: && first gives root-or-(user key); left to right gives (root-or-user) and key — different for login.
    parsed = parse('{ $.userIdentity.type = "Root" || $.userIdentity.type = "IAMUser" && $.eventName = "CreateAccessKey" }')
    with pytest.raises(PatternError, match="mixes && and \\|\\| without parentheses"):
        matches(parsed, samples.load(LOGIN))
    assert matches(parsed, samples.load(ROOT_KEY)) is True


@pytest.mark.parametrize(("pattern", "event", "expected"), [
    ("{ $.n > 5 }", {"n": 6}, True),
    ("{ $.n >= 6 }", {"n": 6}, True),
    ("{ $.n < 6 }", {"n": 6}, False),
    ("{ $.n <= -1.5 }", {"n": -2}, True),
    ("{ $.n = 6 }", {"n": 6.0}, True),
    ("{ $.n != 6 }", {"n": 7}, True),
    ("{ $.n = 6 }", {"n": "6"}, True),
    ("{ $.n > 5 }", {"n": "6"}, False),
    ("{ $.n > 5 }", {"n": True}, False),
    ("{ $.b IS TRUE }", {"b": True}, True),
    ("{ $.b IS TRUE }", {"b": "true"}, False),
    ("{ $.b IS FALSE }", {"b": False}, True),
    ("{ $.x IS NULL }", {"x": None}, True),
    ("{ $.x IS NULL }", {}, False),
    ("{ $.x NOT EXISTS }", {"x": None}, False),
    ("{ $.x EXISTS }", {"x": None}, True),
    ('{ $.a[1].b = "y" }', {"a": [{"b": "x"}, {"b": "y"}]}, True),
    ('{ $.a[2].b = "y" }', {"a": [{"b": "x"}, {"b": "y"}]}, False),
    ('{ $.a = "x" }', {"a": ["x"]}, False),
    ('{ $.a = * }', {"a": "anything"}, True),
    ('{ $.a = "*" }', {}, False),
    ('{ $.a = "x\\"y" }', {"a": 'x"y'}, True),
    ('{ $.a = "a*c" }', {"a": "abbbc"}, True),
    ('{ $.a = "a*c" }', {"a": "abbbd"}, False),
])
def test_matches_operator_semantics(pattern: str, event: dict, expected: bool) -> None:
    assert matches(parse(pattern), event) is expected


def test_samples_are_realistic_cloudtrail_records() -> None:
    for name in samples.ALL_SAMPLES:
        event = samples.load(name)
        assert event["eventVersion"] == "1.09"
        assert {"userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "eventID", "recipientAccountId"} <= set(event)
    assert samples.load(DENIED)["errorCode"] == "AccessDenied"
    assert samples.load(ROOT_KEY)["userIdentity"]["arn"] == "arn:aws:iam::111122223333:root"
