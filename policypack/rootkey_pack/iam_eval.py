"""IAM policy-document analysis for the deny-root-access-keys SCP (CIS AWS 1.4 / Security Hub IAM.4 /
Control Tower AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS) and for the audit role's least privilege.

The question the pack asks of an SCP is semantic: *would this document deny `iam:CreateAccessKey` to the root user
of every member account it is attached to?* Each statement is evaluated the way IAM does for that request, and the
set of 12-digit accounts whose root it denies is computed exactly (`account_sets`): resource patterns and condition
values on account-dependent keys become sets of accounts, combined with union, intersection and complement. The
document denies when the union over its Deny statements is every account, so a deny split over several statements
that together cover every account is equivalent, and an exemption of one account among any number of patterns is
found. When the union is not every account, the smallest account outside it is the counterexample the explanation
names.

No library evaluates IAM policies offline in Python (policy-sentry and parliament lint text, they do not evaluate a
request), so the evaluator is small and hand-written; its approximations are listed in `APPROXIMATIONS`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from .text import ascii_lower, first_non_ascii
from .account_sets import TooComplex, Universe, glob_tokens

SCP_MAX_CHARS = 5120
TARGET_ACTION = "iam:CreateAccessKey"

APPROXIMATIONS = (
    "The request modelled is root creating its own key: resource and aws:PrincipalArn are "
    "arn:<partition>:iam::<account>:root, for the one partition configured (default aws).",
    "The root principal's request context is modelled as aws:PrincipalArn = arn:<partition>:iam::<account>:root, "
    "aws:PrincipalAccount = aws:userid = aws:ResourceAccount = <account>, aws:PrincipalType = Account and "
    "aws:PrincipalIsAWSService = false; any other condition key is treated as possibly false for root (a named "
    "loophole), including aws:PrincipalOrgID, aws:PrincipalTag/*, aws:MultiFactorAuthPresent, aws:SourceIp, "
    "aws:RequestedRegion and aws:ViaAWSService.",
    "A pattern whose policy variable resolves to the account (${aws:PrincipalAccount}, ${aws:PrincipalArn}, "
    "${aws:userid}, ${aws:ResourceAccount}) is matched with the account as one opaque symbol; this is exact because "
    "the fixed parts of the matched text hold no digit, so the substituted account can only align with the account.",
    "Condition operator names are matched case-sensitively; an unrecognised operator is a loophole.",
    "The 5,120-character SCP limit is applied to the document text as written, whitespace included.",
    "A JSON object with a duplicate key is rejected: which value AWS keeps is not documented.",
    "Case is folded for A-Z only, and a statement with a non-ASCII character in its Action, NotAction, Resource, "
    "NotResource or Condition is not relied upon to deny: how AWS compares a lookalike (a Kelvin sign for K) is not "
    "documented.",
)

# Policy variables are substituted only in documents of this version; in any other (or no) version IAM reads
# "${aws:PrincipalAccount}" as literal text, so a condition built on it never matches.
POLICY_VARIABLES_VERSION = "2012-10-17"


def as_list(value: Any) -> Optional[list[Any]]:
    if isinstance(value, list):
        return value
    if isinstance(value, (str, int, float, bool)):
        return [value]
    return None


_GLOB_CACHE: dict[tuple[str, bool], re.Pattern[str]] = {}


def glob_match(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` one character, everything else literal."""
    key = (pattern, ignore_case)
    compiled = _GLOB_CACHE.get(key)
    if compiled is None:
        parts = []
        for ch in pattern:
            parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        # ASCII case folding only, as AWS folds: Unicode's would read "iam:CreateAccess\u212aey" (a Kelvin sign) as
        # iam:CreateAccessKey.
        compiled = re.compile("".join(parts), re.DOTALL | (re.IGNORECASE | re.ASCII if ignore_case else 0))
        if len(_GLOB_CACHE) < 4096:
            _GLOB_CACHE[key] = compiled
    return compiled.fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals: the six colon-separated components are matched separately, wildcards allowed."""
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return False
    return all(glob_match(p, a, ignore_case=False) for p, a in zip(p_parts, a_parts, strict=True))


_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")


def substitute_variables(value: str, context: Mapping[str, str]) -> Optional[str]:
    """Resolve IAM policy variables; None when one cannot be resolved for the request."""
    unresolved = False

    def repl(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1)
        if name in ("*", "?", "$"):
            # ${*} etc. are escapes for literal wildcard characters; mark them so they stay literal.
            return {"*": "\x00STAR\x00", "?": "\x00QM\x00", "$": "$"}[name]
        resolved = context.get(name.lower())
        if resolved is None:
            unresolved = True
            return ""
        return resolved

    out = _VARIABLE_RE.sub(repl, value)
    return None if unresolved else out


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str]  # lower-cased condition keys
    policy_variables: bool = True  # whether the document's Version enables ${...} substitution

    @staticmethod
    def root_create_access_key(account: str, partition: str = "aws", *, policy_variables: bool = True) -> Request:
        arn = f"arn:{partition}:iam::{account}:root"
        return Request(TARGET_ACTION, arn, root_context(account, partition), policy_variables)


def root_context(account: str, partition: str = "aws") -> dict[str, str]:
    """The condition keys of the root user's own request, lower-cased, with the values IAM gives them for root.

    aws:userid of the root user is the account id; aws:ResourceAccount is the account owning the root user it acts
    on. Keys not listed here are not modelled (see APPROXIMATIONS)."""
    return {
        "aws:principalarn": f"arn:{partition}:iam::{account}:root",
        "aws:principalaccount": account,
        "aws:userid": account,
        "aws:resourceaccount": account,
        "aws:principaltype": "Account",
        "aws:principalisawsservice": "false",
    }


@dataclass(frozen=True)
class StatementResult:
    applies: bool
    reasons: tuple[str, ...] = ()


_STRING_OPS = {
    "StringEquals": ("eq", False, False),
    "StringNotEquals": ("eq", False, True),
    "StringEqualsIgnoreCase": ("eq", True, False),
    "StringNotEqualsIgnoreCase": ("eq", True, True),
    "StringLike": ("like", False, False),
    "StringNotLike": ("like", False, True),
    "ArnEquals": ("arn", False, False),
    "ArnLike": ("arn", False, False),
    "ArnNotEquals": ("arn", False, True),
    "ArnNotLike": ("arn", False, True),
    "Bool": ("eq", True, False),
}

# Condition keys whose value for root is known in the modelled request.
_SUPPORTED_KEYS = tuple(root_context("000000000000"))


def _single_match(kind: str, ignore_case: bool, pattern: str, value: str) -> bool:
    if kind == "eq":
        return ascii_lower(pattern) == ascii_lower(value) if ignore_case else pattern == value
    if kind == "like":
        return glob_match(pattern, value, ignore_case=False)
    return arn_match(pattern, value)


@dataclass(frozen=True)
class OperatorMatch:
    """A string operator reduced to: does any pattern match the request value (then negated or not)."""

    kind: str  # "eq", "like" or "arn"
    ignore_case: bool
    negated: bool
    patterns: tuple[str, ...]  # policy variables resolved; escaped wildcards as \x00STAR\x00 / \x00QM\x00
    value: str

    def one(self, pattern: str) -> bool:
        literal = pattern.replace("\x00STAR\x00", "*").replace("\x00QM\x00", "?")
        if self.kind == "eq":
            return _single_match(self.kind, self.ignore_case, literal, self.value)
        # Escaped wildcards stay literal: match them via a sentinel character that cannot occur in ARNs.
        marked = pattern.replace("\x00STAR\x00", "\x01").replace("\x00QM\x00", "\x02")
        target = self.value.replace("*", "\x01").replace("?", "\x02")
        return _single_match(self.kind, self.ignore_case, marked, target)

    def holds(self) -> bool:
        # One request value: ForAnyValue and ForAllValues reduce to the plain operator.
        matched = any(self.one(p) for p in self.patterns)
        return not matched if self.negated else matched


def _evaluate_operator(
    op: str, key: str, raw_values: Any, request: Request
) -> tuple[Optional[bool], Optional[str]]:
    """(result, loophole) for one operator/key pair; result None means the pack cannot decide."""
    result, loophole, match = prepare_operator(op, key, raw_values, request)
    if match is not None:
        return match.holds(), None
    return result, loophole


def prepare_operator(
    op: str, key: str, raw_values: Any, request: Request
) -> tuple[Optional[bool], Optional[str], Optional[OperatorMatch]]:
    """(result, loophole, None) when decided without matching; (None, None, match) for a string comparison."""
    base = op
    set_prefix = ""
    if ":" in base:
        set_prefix, _, base = base.partition(":")
        if set_prefix not in ("ForAnyValue", "ForAllValues"):
            return None, f"uses the unknown condition set operator '{op}'", None
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
        if base == "Null":
            # IAM allows IfExists on every operator but Null: the document is invalid, so nothing is proven.
            return None, f"uses the invalid condition operator '{op}' (IfExists cannot qualify Null)", None
    lowered_key = key.lower()
    values = as_list(raw_values)
    if values is None or not values:
        return None, f"has a malformed value {raw_values!r} for condition key '{key}' under '{op}'", None

    if base == "Null":
        if lowered_key not in _SUPPORTED_KEYS:
            return None, f"has a condition '{op}' on key '{key}' that could be false for the root user", None
        present = lowered_key in request.context
        wanted = [str(v).lower() for v in values]
        if any(w not in ("true", "false") for w in wanted):
            return None, f"has a malformed Null condition value {raw_values!r} on key '{key}'", None
        # "true" asks for the key to be absent; several values are OR'ed.
        return any((w == "true") != present for w in wanted), None, None

    if lowered_key not in _SUPPORTED_KEYS:
        return None, f"has a condition '{op}' on key '{key}' that could be false for the root user", None
    spec = _STRING_OPS.get(base)
    if spec is None:
        return None, f"has a condition operator '{op}' on key '{key}' that the pack cannot prove true for the root user", None
    kind, ignore_case, negated = spec
    request_value = request.context.get(lowered_key)
    if request_value is None:
        # Absent key: IfExists and ForAllValues make the condition true, everything else false.
        return (if_exists or set_prefix == "ForAllValues"), None, None
    patterns: list[str] = []
    for v in values:
        if isinstance(v, bool) and base == "Bool":
            v = "true" if v else "false"  # JSON true/false in a Bool condition are the strings IAM compares
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            return None, f"has a malformed value {v!r} for condition key '{key}' under '{op}'", None
        resolved = substitute_variables(str(v), request.context) if request.policy_variables else str(v)
        if resolved is None:
            return None, f"uses a policy variable the pack cannot resolve in {v!r} under '{op}'", None
        patterns.append(resolved)
    return None, None, OperatorMatch(kind, ignore_case, negated, tuple(patterns), request_value)


def evaluate_conditions(condition: Any, request: Request) -> tuple[Optional[bool], tuple[str, ...]]:
    if condition is None:
        return True, ()
    if not isinstance(condition, Mapping):
        return None, (f"has a malformed Condition block {condition!r}",)
    loopholes: list[str] = []
    result: Optional[bool] = True
    false_ops: list[str] = []
    for op, block in condition.items():
        if not isinstance(block, Mapping) or not block:
            loopholes.append(f"has a malformed condition block under '{op}'")
            result = None
            continue
        for key, raw_values in block.items():
            value, loophole = _evaluate_operator(str(op), str(key), raw_values, request)
            if loophole:
                loopholes.append(loophole)
            if value is None:
                result = None
            elif value is False:
                false_ops.append(f"{op} on {key} {raw_values!r}")
                if result is not None:
                    result = False
    if result is False:
        return False, (f"has a condition {false_ops[0]} that is false for the root principal {request.context.get('aws:principalarn')}",)
    return result, tuple(loopholes)


@dataclass(frozen=True)
class Statement:
    index: int
    sid: Optional[str]
    raw: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"statement '{self.sid}'" if self.sid else f"statement #{self.index + 1}"


@dataclass(frozen=True)
class ParsedDocument:
    document: Optional[Mapping[str, Any]]
    statements: tuple[Statement, ...]
    errors: tuple[str, ...]


def _object_noting_duplicates(pairs: list[tuple[str, Any]], duplicates: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            duplicates.append(key)
        out[key] = value
    return out


def version_problem(document: Mapping[str, Any]) -> Optional[str]:
    version = document.get("Version")
    if "Version" in document and version not in ("2012-10-17", "2008-10-17"):
        return f"has Version {version!r} (expected \"2012-10-17\")"
    return None


def parse_document(text: Any) -> ParsedDocument:
    """Parse a policy document (JSON text or an already-decoded object) into statements, collecting errors."""
    if isinstance(text, str):
        duplicates: list[str] = []
        try:
            doc = json.loads(text, object_pairs_hook=lambda pairs: _object_noting_duplicates(pairs, duplicates))
        except (ValueError, RecursionError) as exc:
            return ParsedDocument(None, (), (f"is not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})",))
        if duplicates:
            # json keeps the last value, AWS's reading is undocumented: judging either reading could pass a
            # document that AWS enforces differently, so the ambiguity itself is the problem.
            return ParsedDocument(None, (), (f"repeats the key '{duplicates[0]}' in one JSON object, which AWS may read differently from this pack",))
    else:
        doc = text
    if not isinstance(doc, Mapping):
        return ParsedDocument(None, (), (f"is a JSON {type(doc).__name__}, not an object",))
    errors: list[str] = []
    raw_statements = doc.get("Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        return ParsedDocument(doc, (), ("has no Statement (an object or a non-empty list is required)",))
    statements: list[Statement] = []
    for index, raw in enumerate(raw_statements):
        if not isinstance(raw, Mapping):
            errors.append(f"has statement #{index + 1} that is a JSON {type(raw).__name__}, not an object")
            continue
        sid = raw.get("Sid")
        statements.append(Statement(index, sid if isinstance(sid, str) and sid else None, raw))
    return ParsedDocument(doc, tuple(statements), tuple(errors))


_STATEMENT_ELEMENTS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition")


def statement_structure_errors(statement: Statement, *, scp: bool) -> list[str]:
    raw = statement.raw
    errors: list[str] = []
    label = statement.label
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        errors.append(f"has {label} with Effect {effect!r} (only \"Allow\" or \"Deny\" is valid)")
    if scp:
        for element in ("Principal", "NotPrincipal"):
            if element in raw:
                errors.append(f"has {label} with a {element} element, which SCPs do not support")
    for element in raw:
        if element not in _STATEMENT_ELEMENTS:
            # Element names are case-sensitive: a "condition" is not a Condition, and IAM rejects the document.
            errors.append(f"has {label} with the element {element!r}, which the policy grammar does not have "
                          f"(expected only {', '.join(_STATEMENT_ELEMENTS)})")
    has_action, has_not_action = "Action" in raw, "NotAction" in raw
    if has_action == has_not_action:
        errors.append(f"has {label} with {'both Action and' if has_action else 'neither Action nor'} NotAction (exactly one is required)")
    has_res, has_not_res = "Resource" in raw, "NotResource" in raw
    if has_res == has_not_res:
        errors.append(f"has {label} with {'both Resource and' if has_res else 'neither Resource nor'} NotResource (exactly one is required)")
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in raw:
            items = as_list(raw[element])
            if items is None or not items or not all(isinstance(i, str) and i for i in items):
                errors.append(f"has {label} whose {element} is {raw[element]!r} (a string or a list of strings is required)")
    return errors


def validate_scp(text: Any) -> list[str]:
    """Problems that make AWS Organizations reject (or mis-read) an SCP; [] when the document is acceptable."""
    if not isinstance(text, str):
        return [f"is a {type(text).__name__}, not a JSON string"]
    problems: list[str] = []
    if len(text) > SCP_MAX_CHARS:
        problems.append(f"is {len(text)} characters long, over the {SCP_MAX_CHARS}-character SCP limit")
    parsed = parse_document(text)
    problems.extend(parsed.errors)
    if parsed.document is not None and (problem := version_problem(parsed.document)) is not None:
        problems.append(problem)
    for statement in parsed.statements:
        problems.extend(statement_structure_errors(statement, scp=True))
    return problems


def _covers(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    return any(glob_match(p, value, ignore_case=ignore_case) for p in patterns)


def _resource_patterns(items: Sequence[str], request: Request) -> list[str]:
    """Resource patterns with policy variables resolved (an unresolvable one matches nothing, as in IAM)."""
    if not request.policy_variables:
        return list(items)
    out = []
    for item in items:
        resolved = substitute_variables(item, request.context)
        if resolved is not None:
            # Escaped wildcards (${*}, ${?}) stay literal; the root ARN contains neither, so they never match it.
            out.append(resolved.replace("\x00STAR\x00", "\x01").replace("\x00QM\x00", "\x02"))
    return out


def _non_ascii_reason(raw: Mapping[str, Any]) -> Optional[str]:
    """Why a statement is not relied upon: action names, ARNs and condition keys are ASCII, and how AWS compares a
    lookalike (a Kelvin sign for K, a dotless i) is not documented, so one could deny, or exempt, either way."""
    for element in ("Action", "NotAction", "Resource", "NotResource", "Condition"):
        value = raw.get(element)
        texts = [*_strings(value), *_keys(value)]
        odd = next((ch for text in texts if (ch := first_non_ascii(text))), None)
        if odd is not None:
            return f"has the non-ASCII character {odd!r} (U+{ord(odd):04X}) in its {element}, which AWS's names never contain"
    return None


def evaluate_statement(statement: Statement, request: Request) -> StatementResult:
    """Whether this statement denies the request, with the reasons it does not."""
    raw = statement.raw
    structure = statement_structure_errors(statement, scp=True)
    if structure:
        return StatementResult(False, tuple(s.replace(f"has {statement.label} ", "", 1) for s in structure))
    reasons: list[str] = []
    if raw.get("Effect") != "Deny":
        reasons.append("is an Allow statement, which cannot deny anything in an SCP")
    if (lookalike := _non_ascii_reason(raw)) is not None:
        reasons.append(lookalike)
    if "Action" in raw:
        if not _covers(as_list(raw["Action"]) or [], request.action, ignore_case=True):
            reasons.append(f"has an Action that does not cover {request.action}")
    elif _covers(as_list(raw["NotAction"]) or [], request.action, ignore_case=True):
        reasons.append(f"has a NotAction that excludes {request.action}")
    if "Resource" in raw:
        if not _covers(_resource_patterns(as_list(raw["Resource"]) or [], request), request.resource, ignore_case=False):
            reasons.append(f"has a Resource that does not cover the root user {request.resource}")
    elif _covers(_resource_patterns(as_list(raw["NotResource"]) or [], request), request.resource, ignore_case=False):
        reasons.append(f"has a NotResource that excludes the root user {request.resource}")
    conditions, condition_reasons = evaluate_conditions(raw.get("Condition"), request)
    reasons.extend(condition_reasons)
    return StatementResult(not reasons and conditions is True, tuple(reasons))


@dataclass(frozen=True)
class DenialVerdict:
    denies: bool
    explanation: str  # why not, when denies is False; "" otherwise
    denying_statements: tuple[str, ...] = field(default_factory=tuple)


def _mentions_target(statement: Statement) -> bool:
    raw = statement.raw
    items = as_list(raw.get("Action")) or []
    return any(isinstance(i, str) and glob_match(i, TARGET_ACTION, ignore_case=True) for i in items) or (
        "NotAction" in raw
    )


# The account inside a request value, as one opaque symbol (see APPROXIMATIONS on policy variables).
ACCOUNT_SYMBOL = "\x03"
_RESERVED_CHARACTERS = ("\x00", "\x01", "\x02", ACCOUNT_SYMBOL)


def _split_on_account(value: str) -> Optional[tuple[str, str]]:
    if value.count(ACCOUNT_SYMBOL) != 1:
        return None
    before, _, after = value.partition(ACCOUNT_SYMBOL)
    return before, after


def _pattern_set(universe: Universe, match: OperatorMatch, pattern: str) -> int:
    """The accounts for which `pattern` matches the request value (which embeds the account once, or not at all)."""
    split = _split_on_account(match.value)
    if split is None or ACCOUNT_SYMBOL in pattern:
        # The value does not depend on the account, or the pattern holds the account too: then the substituted
        # account can only align with the account in the value, so the symbolic match is the answer for all.
        return universe.constant(match.one(pattern))
    if match.kind == "eq":
        literal = pattern.replace("\x00STAR\x00", "*").replace("\x00QM\x00", "?")
        return universe.matching(glob_tokens(literal, wildcards=False), *split, fold=match.ignore_case)
    marked = pattern.replace("\x00STAR\x00", "\x01").replace("\x00QM\x00", "\x02")
    if match.kind == "like":
        return universe.matching(glob_tokens(marked), *split)
    p_parts, v_parts = marked.split(":", 5), match.value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return universe.empty
    where = next(i for i, part in enumerate(v_parts) if ACCOUNT_SYMBOL in part)
    if not all(glob_match(p, v, ignore_case=False) for i, (p, v) in enumerate(zip(p_parts, v_parts, strict=True)) if i != where):
        return universe.empty
    before, after = v_parts[where].split(ACCOUNT_SYMBOL)
    return universe.matching(glob_tokens(p_parts[where]), before, after)


def _condition_set(universe: Universe, condition: Any, request: Request) -> Optional[int]:
    """The accounts for which every condition holds; None when one cannot be decided (a loophole)."""
    if condition is None:
        return universe.full
    if not isinstance(condition, Mapping):
        return None
    parts: list[int] = []
    for op, block in condition.items():
        if not isinstance(block, Mapping) or not block:
            return None
        for key, raw_values in block.items():
            result, _, match = prepare_operator(str(op), str(key), raw_values, request)
            if match is None:
                if result is None:
                    return None
                parts.append(universe.constant(result))
                continue
            matched = universe.union(*(_pattern_set(universe, match, p) for p in match.patterns))
            parts.append(universe.negate(matched) if match.negated else matched)
    return universe.intersect(*parts)


def _resource_set(universe: Universe, raw: Mapping[str, Any], request: Request) -> int:
    """The accounts whose root user the statement's Resource covers (or NotResource does not exclude)."""
    element = "Resource" if "Resource" in raw else "NotResource"
    split = _split_on_account(request.resource)
    sets = []
    # Escaped wildcards are \x01 / \x02 here, literal characters for both glob_match and glob_tokens.
    for pattern in _resource_patterns(as_list(raw[element]) or [], request):
        if split is None or ACCOUNT_SYMBOL in pattern:
            sets.append(universe.constant(glob_match(pattern, request.resource, ignore_case=False)))
        else:
            sets.append(universe.matching(glob_tokens(pattern), *split))
    covered = universe.union(*sets)
    return universe.negate(covered) if element == "NotResource" else covered


def statement_denied_accounts(statement: Statement, universe: Universe, request: Request) -> int:
    """The accounts whose root this statement denies iam:CreateAccessKey; `request` has the account symbolic."""
    raw = statement.raw
    if statement_structure_errors(statement, scp=True) or raw.get("Effect") != "Deny" or _non_ascii_reason(raw):
        return universe.empty
    if "Action" in raw:
        if not _covers(as_list(raw["Action"]) or [], request.action, ignore_case=True):
            return universe.empty
    elif _covers(as_list(raw["NotAction"]) or [], request.action, ignore_case=True):
        return universe.empty
    conditions = _condition_set(universe, raw.get("Condition"), request)
    if conditions is None:
        return universe.empty
    return universe.intersect(_resource_set(universe, raw, request), conditions)


def _reserved_character(document: Any) -> bool:
    return any(ch in text for text in _strings(document) for ch in _RESERVED_CHARACTERS)


def _accepted(text: Any) -> tuple[Optional[DenialVerdict], ParsedDocument]:
    """The parsed SCP, or the verdict for a document AWS would reject (or the pack does not evaluate)."""
    empty = ParsedDocument(None, (), ())
    if not isinstance(text, str):
        return DenialVerdict(False, f"the document is a {type(text).__name__}, not a JSON string"), empty
    if len(text) > SCP_MAX_CHARS:
        return DenialVerdict(False, f"the document is {len(text)} characters long, over the {SCP_MAX_CHARS}-character SCP limit, so AWS rejects it"), empty
    parsed = parse_document(text)
    if parsed.document is None or not parsed.statements:
        return DenialVerdict(False, "the document " + (parsed.errors[0] if parsed.errors else "has no statements")), parsed
    invalid = [e for s in parsed.statements for e in statement_structure_errors(s, scp=True)] + list(parsed.errors)
    if (problem := version_problem(parsed.document)) is not None:
        invalid.insert(0, problem)
    if invalid:
        return DenialVerdict(False, f"the document {invalid[0]}, so AWS rejects it"), parsed
    if _reserved_character(parsed.document):
        return DenialVerdict(False, "the document contains a control character (U+0000 to U+0003) that the pack does not evaluate"), parsed
    return None, parsed


def _statement_sets(parsed: ParsedDocument, partition: str, universe: Universe) -> list[tuple[Statement, int]]:
    assert parsed.document is not None
    variables = parsed.document.get("Version") == POLICY_VARIABLES_VERSION
    symbolic = Request.root_create_access_key(ACCOUNT_SYMBOL, partition, policy_variables=variables)
    return [(statement, statement_denied_accounts(statement, universe, symbolic)) for statement in parsed.statements]


def scp_denied_accounts(text: Any, universe: Universe, partition: str = "aws") -> Optional[int]:
    """The accounts whose root this SCP denies iam:CreateAccessKey (a node of `universe`); None when AWS would
    reject the document or it is too intricate to decide. For combining SCPs attached to the same target."""
    rejected, parsed = _accepted(text)
    if rejected is not None:
        return None
    try:
        return universe.union(*(node for _, node in _statement_sets(parsed, partition, universe)))
    except TooComplex:
        return None


def root_access_key_denial(text: Any, partition: str = "aws", universe: Optional[Universe] = None) -> DenialVerdict:
    """Does this SCP deny iam:CreateAccessKey to the root user of every account (of `partition`) it applies to?

    Decided exactly over every account of `universe` (12-digit ids by default; tests pass small ones)."""
    rejected, parsed = _accepted(text)
    if rejected is not None:
        return rejected
    assert parsed.document is not None
    universe = universe or Universe()
    variables = parsed.document.get("Version") == POLICY_VARIABLES_VERSION
    try:
        sets = _statement_sets(parsed, partition, universe)
    except TooComplex as exc:
        return DenialVerdict(False, f"its account patterns are too intricate for the pack to decide ({exc}); simplify the conditions")
    denied = universe.union(*(node for _, node in sets))
    witness = universe.smallest_outside(denied)
    if witness is None:
        return DenialVerdict(True, "", tuple(st.label for st, node in sets if node != universe.empty))
    request = Request.root_create_access_key(witness, partition, policy_variables=variables)
    # Explain with the statement that was meant to deny the action when there is one, for the counterexample.
    candidates: list[tuple[bool, str]] = []
    for statement in parsed.statements:
        result = evaluate_statement(statement, request)
        reason = result.reasons[0] if result.reasons else f"does not apply to the root principal {request.resource}"
        candidates.append((_mentions_target(statement), f"{statement.label} {reason}"))
    preferred = [r for mentions, r in candidates if mentions] or [r for _, r in candidates]
    return DenialVerdict(False, preferred[0])


def _names_target(item: Any) -> bool:
    """An action pattern aimed at iam:CreateAccessKey: the literal name, or a wildcard that covers it and spells
    "access" or "key" ("iam:Create*Key", "iam:*AccessKey"). Broader wildcards ("iam:*", "iam:Create*", "*") are not
    aimed at it: region, allow-list or IAM-hardening SCPs use them for unrelated reasons, and flagging those would
    block other teams' stacks."""
    if not isinstance(item, str):
        return False
    if "createaccesskey" in item.lower():
        return True
    _, _, action_part = item.partition(":")
    lowered = action_part.lower()
    return ("access" in lowered or "key" in lowered) and glob_match(item, TARGET_ACTION, ignore_case=True)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)


def _keys(value: Any) -> Iterable[str]:
    """Every key of a nested mapping (a Condition's operators and condition keys)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _keys(item)


def mentions_create_access_key(text: Any) -> bool:
    """Whether a Deny statement of an SCP aims at iam:CreateAccessKey in its Action/NotAction (see `_names_target`).

    Deny statements only: allow-list SCPs name the action in Allow statements for unrelated reasons.
    """
    parsed = parse_document(text) if isinstance(text, str) else ParsedDocument(None, (), ())
    for statement in parsed.statements:
        if statement.raw.get("Effect") != "Deny":
            continue
        for element in ("Action", "NotAction"):
            items = as_list(statement.raw.get(element)) or []
            if any(_names_target(i) for i in items):
                return True
    return False


# --- identity policies (audit role least privilege) ---


@dataclass(frozen=True)
class AllowedGrant:
    """An action the audit role may be granted, and the resources it may be granted on."""

    action: str
    resources: tuple[str, ...] = ("*",)  # allowed resource patterns; "*" means any
    required_condition_keys: tuple[str, ...] = ()
    # A resource ending in a wildcard (e.g. every key of the account) is accepted only with one of these conditions.
    wildcard_condition_keys: tuple[str, ...] = ()
    # The resource's name after its last "/" must be literal (e.g. one role name, not every role of every account).
    literal_name: bool = False


# Operators under which a condition narrows a grant; a negated operator or a bare "*" value does not.
_NARROWING_OPERATORS = ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike")


def _narrowing_condition_keys(condition: Any) -> set[str]:
    """Lower-cased condition keys that actually narrow a grant (a value other than a bare wildcard)."""
    keys: set[str] = set()
    if not isinstance(condition, Mapping):
        return keys
    for op, block in condition.items():
        qualifier, _, rest = str(op).rpartition(":")
        base = rest or str(op)
        if base.endswith("IfExists") or qualifier.lower() == "forallvalues":
            # An absent key satisfies either (ForAllValues over no values is true), which narrows nothing: a direct
            # KMS call carries no kms:ViaService.
            continue
        if base not in _NARROWING_OPERATORS or not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            items = as_list(values) or []
            if items and all(isinstance(v, str) and v.strip("*?") for v in items):
                keys.add(str(key).lower())
    return keys


def allow_statements(text: Any) -> tuple[list[Statement], list[str]]:
    parsed = parse_document(text)
    problems = list(parsed.errors)
    if parsed.document is None:
        return [], problems
    allows = []
    for statement in parsed.statements:
        problems.extend(statement_structure_errors(statement, scp=False))
        if statement.raw.get("Effect") == "Allow":
            allows.append(statement)
    return allows, problems


def grant_problems(statement: Statement, allowed: Iterable[AllowedGrant]) -> list[str]:
    """Least-privilege problems of one Allow statement against the allow-list."""
    raw = statement.raw
    label = statement.label
    allowed = list(allowed)
    problems: list[str] = []
    if "NotAction" in raw:
        return [f"{label} uses NotAction, which grants every other action"]
    if "NotResource" in raw:
        return [f"{label} uses NotResource, which grants every other resource"]
    actions = [a for a in (as_list(raw.get("Action")) or []) if isinstance(a, str)]
    resources = [r for r in (as_list(raw.get("Resource")) or []) if isinstance(r, str)]
    condition_keys = _narrowing_condition_keys(raw.get("Condition"))
    for action in actions:
        if "*" in action or "?" in action:
            problems.append(f"{label} grants the wildcard action '{action}'")
            continue
        grant = next((g for g in allowed if g.action.lower() == action.lower()), None)
        if grant is None:
            problems.append(f"{label} grants '{action}', which the audit does not need")
            continue
        if grant.resources != ("*",):
            for resource in resources:
                if not any(glob_match(p, resource, ignore_case=False) and (resource != "*" or p == "*") for p in grant.resources):
                    problems.append(f"{label} grants '{action}' on '{resource}', wider than {list(grant.resources)}")
                elif grant.literal_name and any(ch in resource.rpartition("/")[2] for ch in "*?"):
                    problems.append(f"{label} grants '{action}' on '{resource}', which matches every name instead of one")
                elif grant.wildcard_condition_keys and resource.endswith("*") and not (
                    condition_keys & {k.lower() for k in grant.wildcard_condition_keys}
                ):
                    keys = " or ".join(grant.wildcard_condition_keys)
                    problems.append(f"{label} grants '{action}' on the wildcard '{resource}' without a condition on {keys}")
        for key in grant.required_condition_keys:
            if key.lower() not in condition_keys:
                problems.append(f"{label} grants '{action}' without a narrowing condition on '{key}'")
    return problems
