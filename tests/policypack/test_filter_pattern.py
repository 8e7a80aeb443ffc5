"""The CloudWatch Logs filter-pattern analyser on a corpus, against the pack's sample CloudTrail events."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rootkey_pack import samples
from rootkey_pack.filter_pattern import DIGIT, PatternError, Shape, glob_over_shape, judge_class, matches, parse

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


# --- Judging over the whole class of events --------------------------------------------------------------------
CREATED = samples.CLASS_CREATED
DENIED_CLASS = samples.CLASS_DENIED
LOGIN_CLASS = samples.CLASS_CONSOLE_LOGIN
CLASSES = (CREATED, DENIED_CLASS, LOGIN_CLASS)
BASE = '$.userIdentity.type = "Root" && $.eventName = "CreateAccessKey"'


def judged(pattern: str, partition: str = "aws") -> dict[str, tuple[Optional[bool], tuple[str, ...]]]:
    parsed = parse(pattern)
    out = {}
    for name in CLASSES:
        verdict = judge_class(parsed, samples.event_class(name, partition))
        out[name] = (verdict.value, verdict.depends_on)
    return out


T, F = (True, ()), (False, ())


def U(*fields: str) -> tuple[None, tuple[str, ...]]:
    return (None, fields)


# One change per case from the program's created pattern's essentials: the verdict over each class.
CLASS_CASES = {
    "program-created": ('{ ($.userIdentity.type = "Root") && ($.eventSource = "iam.amazonaws.com") && ($.eventName = "CreateAccessKey") && ($.errorCode NOT EXISTS) }', {CREATED: T, DENIED_CLASS: F, LOGIN_CLASS: F}),
    "base": ("{ " + BASE + " }", {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "cis": ('{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: T}),
    "temporary-key-only": ("{ " + BASE + ' && $.userIdentity.accessKeyId = "ASIA*" }', {c: U("$.userIdentity.accessKeyId") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "long-term-key-excluded": ("{ " + BASE + ' && $.userIdentity.accessKeyId != "AKIA*" }', {c: U("$.userIdentity.accessKeyId") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "session-context": ("{ " + BASE + " && $.userIdentity.sessionContext EXISTS }", {c: U("$.userIdentity.sessionContext") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "create-date": ("{ " + BASE + ' && $.responseElements.accessKey.createDate = "*2026*" }', {c: U("$.responseElements.accessKey.createDate") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "arn-any-account": ('{ $.userIdentity.arn = "arn:aws:iam::*:root" && $.eventName = "CreateAccessKey" }', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "arn-one-account": ('{ $.userIdentity.arn = "arn:aws:iam::111122223333:root" && $.eventName = "CreateAccessKey" }', {c: U("$.userIdentity.arn") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "arn-prefix-digit": ('{ $.userIdentity.arn = "arn:aws:iam::1*" && $.eventName = "CreateAccessKey" }', {c: U("$.userIdentity.arn") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "arn-not-other-account": ('{ $.userIdentity.arn != "arn:aws:iam::999999999999:root" && $.eventName = "CreateAccessKey" }', {c: U("$.userIdentity.arn") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "arn-wrong-suffix": ('{ $.userIdentity.arn = "*:user/*" || $.eventName = "CreateAccessKey" }', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "account-twelve-any": ("{ " + BASE + ' && $.userIdentity.accountId = "*" }', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "account-numeric": ("{ " + BASE + " && $.userIdentity.accountId > 0 }", {CREATED: F, DENIED_CLASS: F, LOGIN_CLASS: F}),
    "error-either-way": ("{ " + BASE + " && ($.errorCode NOT EXISTS || $.errorCode EXISTS) }", {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "error-value-pinned": ("{ " + BASE + ' && ($.errorCode NOT EXISTS || $.errorCode = "AccessDenied") }', {CREATED: T, DENIED_CLASS: U("$.errorCode"), LOGIN_CLASS: F}),
    "or-free-or-fixed": ('{ ($.sourceIPAddress = "203.*" || $.userIdentity.type = "Root") && $.eventName = "CreateAccessKey" }', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "and-free-false": ('{ $.sourceIPAddress = "203.*" && $.userIdentity.type = "IAMUser" }', {c: F for c in CLASSES}),
    "nested-under-fixed": ('{ $.eventName.length = 15 || $.userIdentity.type.x NOT EXISTS }', {c: T for c in CLASSES}),
    "index-on-object": ('{ $.userIdentity[0] EXISTS }', {c: F for c in CLASSES}),
    "object-compared": ('{ $.userIdentity = "Root" }', {c: F for c in CLASSES}),
    "object-is-null": ('{ $.userIdentity IS NULL }', {c: F for c in CLASSES}),
    "read-only-false": ("{ " + BASE + " && $.readOnly IS FALSE && $.managementEvent IS TRUE }", {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: F}),
    "sign-in-type": ('{ $.userIdentity.type = "Root" && $.eventType = "AwsConsoleSignIn" }', {CREATED: F, DENIED_CLASS: F, LOGIN_CLASS: T}),
    "free-field-absent": ("{ " + BASE + " && $.requestParameters NOT EXISTS }", {c: U("$.requestParameters") for c in (CREATED, DENIED_CLASS)} | {LOGIN_CLASS: F}),
    "term-fixed-words": ('CreateAccessKey Root "iam.amazonaws.com"', {CREATED: T, DENIED_CLASS: T, LOGIN_CLASS: U("CreateAccessKey", "iam.amazonaws.com")}),
    "term-key-name": ("userIdentity eventName", {c: T for c in CLASSES}),
    "term-quoted-arn-part": ('":iam::" ":root"', {c: T for c in CLASSES}),
    "term-pinned-account": ('"arn:aws:iam::111122223333:root"', {c: U("arn:aws:iam::111122223333:root") for c in CLASSES}),
    "term-exclusion": ("CreateAccessKey -AccessDenied", {c: U("-AccessDenied") for c in CLASSES}),
    "term-exclusion-of-fixed": ("CreateAccessKey -Root", {c: F for c in CLASSES}),
    "term-alternatives": ("?ConsoleLogin ?CreateAccessKey", {c: T for c in CLASSES}),
    "term-alternatives-free": ("?AccessDenied ?Failure", {c: U("?AccessDenied", "?Failure") for c in CLASSES}),
    "term-with-quote": ('"type\\":\\"Root"', {c: U('type\\":\\"Root') for c in CLASSES}),
    "empty": ("", {c: T for c in CLASSES}),
}


@pytest.mark.parametrize(("pattern", "expected"), CLASS_CASES.values(), ids=CLASS_CASES.keys())
def test_judge_class_pattern_verdict_per_class(pattern: str, expected: dict[str, Any]) -> None:
    assert judged(pattern) == expected


def test_judge_class_partition_decides_arn_patterns() -> None:
    pattern = '{ $.userIdentity.arn = "arn:aws-us-gov:iam::*:root" }'
    assert judged(pattern, "aws-us-gov")[CREATED] == T
    assert judged(pattern, "aws")[CREATED] == F


def test_judge_class_ambiguous_precedence_raises_pattern_error() -> None:
    # a || b && c: && first is TRUE for a root CreateAccessKey; left to right is TRUE as well; for a console sign-in
    # the first is TRUE and the second FALSE.
    parsed = parse('{ $.userIdentity.type = "Root" || $.userIdentity.type = "IAMUser" && $.eventName = "CreateAccessKey" }')
    assert judge_class(parsed, samples.event_class(CREATED)).value is True
    with pytest.raises(PatternError, match="mixes && and \\|\\| without parentheses"):
        judge_class(parsed, samples.event_class(LOGIN_CLASS))


@pytest.mark.parametrize(("glob", "segments", "expected"), [
    ("*", (), True),
    ("", (), True),
    ("a", (), False),
    ("*", (("a", "b"),), True),
    ("a", (("a", "b"),), None),
    ("c", (("a", "b"),), False),
    ("1*", (DIGIT, DIGIT), None),
    ("??", (DIGIT, DIGIT), False),  # no ? wildcard in filter patterns: a literal question mark
    ("*1*", (("1",), DIGIT), True),
    ("*0", (DIGIT,) * 3, None),
    ("arn:*:root", (("arn:",), ("aws", "aws-cn"), (":iam::",), *(DIGIT,) * 12, (":root",)), True),
    ("arn:aws:*", (("arn:",), ("aws", "aws-cn"), (":iam::",), *(DIGIT,) * 12, (":root",)), None),
    ("arn:aws*", (("arn:",), ("aws", "aws-cn"), (":iam::",), *(DIGIT,) * 12, (":root",)), True),
    ("*::*:*:root", (("arn:",), ("aws",), (":iam::",), *(DIGIT,) * 12, (":root",)), False),
])
def test_glob_over_shape_decides_every_instance(glob: str, segments: tuple[tuple[str, ...], ...], expected: Optional[bool]) -> None:
    assert glob_over_shape(glob, Shape(segments)) is expected


@pytest.mark.parametrize("name", [samples.ROOT_CREATE_ACCESS_KEY, samples.ROOT_CREATE_ACCESS_KEY_DENIED, samples.ROOT_CONSOLE_LOGIN])
@pytest.mark.parametrize("pattern", [p for p, _ in EQUIVALENT.values()] + [p for p, _ in WEAKENED.values()] + [p for p, _ in CLASS_CASES.values()])
def test_judge_class_verdict_holds_for_the_class_sample(pattern: str, name: str) -> None:
    # Each sample is one event of its class, so the class verdict decides it whenever the verdict is not UNKNOWN.
    parsed = parse(pattern)
    try:
        verdict = judge_class(parsed, samples.event_class(samples.SAMPLE_CLASS[name]))
    except PatternError:
        return
    for _, event in samples.load_with_variants(name):
        if verdict.value is not None:
            assert matches(parsed, event) is verdict.value
