"""CloudWatch Logs filter-pattern semantics, to prove a metric filter matches a root CreateAccessKey CloudTrail
event (CIS AWS 4.3 / 5.3 root-usage monitoring, Security Hub CloudWatch.1).

Patterns are parsed and judged over the whole class of events they must catch (`judge_class`): the fields that
define the class are fixed (samples.event_class says which, and why), every other field is free and may be absent,
and a comparison on a free field is UNKNOWN under Kleene's three-valued AND / OR. A pattern catches the class only
when it evaluates to TRUE, so a pattern pinned to an account, a key prefix or a date fails even though the shipped
samples happen to carry those values. Concrete evaluation (`matches`) judges single events: the samples as
regression cases, and the events a filter must not match.
The parser is a small recursive descent over the documented JSON pattern grammar; no maintained Python library
implements CloudWatch Logs filter patterns (moto stores them without evaluating JSON patterns; the only evaluators
found live inside other products, such as the Rust fakecloud-logs crate), so the pack carries its own, with its
approximations listed in `APPROXIMATIONS`.

Supported: JSON patterns `{ ... }` with `&&`, `||`, parentheses, `=` / `!=` on quoted or unquoted strings with `*`
wildcards, numeric `= != < > <= >=`, `IS NULL`, `IS TRUE`, `IS FALSE`, `EXISTS`, `NOT EXISTS`, selectors
`$.a.b[0]`; term patterns (words, "quoted phrases", `-exclusions`, `?alternatives`) against the raw event text.
Not evaluated (reported as errors, so the policy fails closed): `%regex%` values, space-delimited `[...]` patterns,
and `?alternative` terms mixed with required or excluded terms.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .text import ascii_int

APPROXIMATIONS = (
    "A comparison on a field the event lacks is false for both = and != (use NOT EXISTS to match absence).",
    "A selector that ends on an array or object is never equal to a string or number.",
    "Mixing && and || at one level without parentheses is accepted only when the usual precedence (&& first) and "
    "left-to-right evaluation agree on every sample event; otherwise it is reported as ambiguous.",
    "Term patterns are matched against the compact JSON text of the event; over a class, a term is known present "
    "only when a fixed key or value holds it, and never known absent (a free field may hold any text), so a pattern "
    "with an -excluded term never catches a whole class.",
    "Over a class, comparisons on different fields are judged independently (a sound but incomplete Kleene "
    "evaluation): a pattern that is TRUE only through a correlation between two free fields is rejected.",
    "A bare `EXISTS` is accepted (true when the field is present); AWS documents IS NULL / NOT EXISTS / IS TRUE / "
    "IS FALSE, so AWS may reject such a pattern at deploy time, which fails loudly rather than silently.",
)

MAX_PATTERN_LENGTH = 1024  # PutMetricFilter's filterPattern limit


class PatternError(ValueError):
    """A pattern the pack cannot parse or evaluate; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    selector: tuple[Union[str, int], ...]
    selector_text: str
    op: str  # = != < > <= >= ISNULL ISTRUE ISFALSE EXISTS NOTEXISTS
    value: Optional[str] = None  # literal text (unquoted or quoted content)
    quoted: bool = False
    number: Optional[float] = None


@dataclass(frozen=True)
class BoolOp:
    op: str  # && or ||
    left: Node
    right: Node


@dataclass(frozen=True)
class Group:
    """A flat run of operands joined by operators, kept until precedence is decided."""

    operands: tuple[Node, ...]
    operators: tuple[str, ...]


Node = Union[Comparison, BoolOp, Group]


@dataclass(frozen=True)
class TermPattern:
    required: tuple[str, ...]
    excluded: tuple[str, ...]
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class JsonPattern:
    root: Node
    ambiguous: bool


ParsedPattern = Union[JsonPattern, TermPattern]

_NUMBER_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_IDENT_RE = re.compile(r"[A-Za-z0-9_\-@:]+")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.mixed = False

    def error(self, what: str) -> PatternError:
        return PatternError(f"{what} at character {self.pos + 1}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip_ws()
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.error(f"expected '{token}'")
        self.pos += len(token)

    def parse_json(self) -> JsonPattern:
        self.expect("{")
        node = self.parse_or()
        self.expect("}")
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.error("unexpected text after the closing '}'")
        return JsonPattern(node, self.mixed)

    def parse_or(self) -> Node:
        operands = [self.parse_unary()]
        operators: list[str] = []
        while True:
            if self.peek("&&"):
                self.pos += 2
                operators.append("&&")
            elif self.peek("||"):
                self.pos += 2
                operators.append("||")
            else:
                break
            operands.append(self.parse_unary())
        if len(operands) == 1:
            return operands[0]
        if len(set(operators)) > 1:
            self.mixed = True
        return Group(tuple(operands), tuple(operators))

    def parse_unary(self) -> Node:
        if self.peek("("):
            self.pos += 1
            node = self.parse_or()
            self.expect(")")
            return node
        return self.parse_comparison()

    def parse_selector(self) -> tuple[tuple[Union[str, int], ...], str]:
        self.skip_ws()
        start = self.pos
        if not self.text.startswith("$", self.pos):
            raise self.error("expected a property selector starting with '$'")
        self.pos += 1
        parts: list[Union[str, int]] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == ".":
                self.pos += 1
                match = _IDENT_RE.match(self.text, self.pos)
                if not match:
                    raise self.error("expected a property name after '.'")
                parts.append(match.group(0))
                self.pos = match.end()
            elif ch == "[":
                end = self.text.find("]", self.pos)
                inner = self.text[self.pos + 1 : end] if end != -1 else ""
                index = ascii_int(inner) if end != -1 else None
                if index is None:
                    raise self.error("expected an array index like [0]")
                parts.append(index)
                self.pos = end + 1
            else:
                break
        if not parts:
            raise self.error("a selector must name a property, like $.eventName")
        return tuple(parts), self.text[start : self.pos]

    def parse_keyword(self, *words: str) -> bool:
        self.skip_ws()
        save = self.pos
        for word in words:
            self.skip_ws()
            if not self.text.startswith(word, self.pos):
                self.pos = save
                return False
            end = self.pos + len(word)
            if end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
                self.pos = save
                return False
            self.pos = end
        return True

    def parse_value(self) -> tuple[str, bool]:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.error("expected a value")
        if self.text[self.pos] == '"':
            self.pos += 1
            out = []
            while self.pos < len(self.text):
                ch = self.text[self.pos]
                if ch == "\\" and self.pos + 1 < len(self.text):
                    out.append(self.text[self.pos + 1])
                    self.pos += 2
                    continue
                if ch == '"':
                    self.pos += 1
                    value = "".join(out)
                    if len(value) >= 2 and value.startswith("%") and value.endswith("%"):
                        raise self.error("regular-expression values (%...%) are not evaluated by the pack")
                    return value, True
                out.append(ch)
                self.pos += 1
            raise self.error("unterminated quoted string")
        if self.text[self.pos] == "%":
            raise self.error("regular-expression values (%...%) are not evaluated by the pack")
        start = self.pos
        while self.pos < len(self.text):
            if self.text[self.pos] in " \t\r\n)}(" or self.text.startswith(("&&", "||"), self.pos):
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected a value")
        return self.text[start : self.pos], False

    def parse_comparison(self) -> Comparison:
        selector, selector_text = self.parse_selector()
        if self.parse_keyword("IS", "NULL"):
            return Comparison(selector, selector_text, "ISNULL")
        if self.parse_keyword("IS", "TRUE"):
            return Comparison(selector, selector_text, "ISTRUE")
        if self.parse_keyword("IS", "FALSE"):
            return Comparison(selector, selector_text, "ISFALSE")
        if self.parse_keyword("NOT", "EXISTS"):
            return Comparison(selector, selector_text, "NOTEXISTS")
        if self.parse_keyword("EXISTS"):
            return Comparison(selector, selector_text, "EXISTS")
        self.skip_ws()
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                break
        else:
            raise self.error(f"expected an operator (=, !=, <, >, <=, >=, IS, EXISTS, NOT EXISTS) after {selector_text}")
        value, quoted = self.parse_value()
        number = None
        if not quoted and _NUMBER_RE.match(value):
            number = float(value)
        if op in ("<", ">", "<=", ">=") and number is None:
            raise self.error(f"'{op}' needs a number, got {value!r}")
        return Comparison(selector, selector_text, op, value, quoted, number)


def _parse_terms(text: str) -> TermPattern:
    tokens = re.findall(r'[-?]?"(?:[^"\\]|\\.)*"|\S+', text)
    required: list[str] = []
    excluded: list[str] = []
    alternatives: list[str] = []
    for token in tokens:
        prefix = token[0] if token[0] in "-?" and len(token) > 1 else ""
        body = token[len(prefix):]
        if body.startswith('"'):
            if len(body) < 2 or not body.endswith('"'):
                raise PatternError(f"unterminated quoted term {token!r}")
            body = body[1:-1]
        elif not re.fullmatch(r"[A-Za-z0-9_]+", body):
            raise PatternError(f"term {token!r} has characters other than letters, digits or '_' and must be quoted")
        {"-": excluded, "?": alternatives, "": required}[prefix].append(body)
    if alternatives and (required or excluded):
        # AWS documents ?terms only on their own; guessing how they combine could pass a filter that never matches.
        raise PatternError("mixing ?alternative terms with required or -excluded terms is not evaluated by the pack")
    return TermPattern(tuple(required), tuple(excluded), tuple(alternatives))


def parse(text: Any) -> ParsedPattern:
    """Parse a filter pattern; raises PatternError (never anything else) when it is malformed or unsupported."""
    if not isinstance(text, str):
        raise PatternError(f"the pattern is a {type(text).__name__}, not a string")
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the pattern is {len(text)} characters long, over the {MAX_PATTERN_LENGTH}-character limit")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return _Parser(text).parse_json()
        except RecursionError:
            raise PatternError("the pattern nests parentheses too deeply") from None
    if stripped.startswith("["):
        raise PatternError("space-delimited patterns ([...]) are not evaluated by the pack")
    return _parse_terms(stripped)


_MISSING = object()


def _resolve(event: Any, selector: Sequence[Union[str, int]]) -> Any:
    current = event
    for part in selector:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return _MISSING
            current = current[part]
        else:
            if not isinstance(current, Mapping) or part not in current:
                return _MISSING
            current = current[part]
    return current


def _wildcard(pattern: str, value: str) -> bool:
    regex = ".*".join(re.escape(p) for p in pattern.split("*"))
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _scalar_text(value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    return None


def _compare(node: Comparison, event: Any) -> bool:
    return _compare_value(node, _resolve(event, node.selector))


def _compare_value(node: Comparison, value: Any) -> bool:
    if node.op == "NOTEXISTS":
        return value is _MISSING
    if node.op == "EXISTS":
        return value is not _MISSING
    if value is _MISSING:
        return False
    if node.op == "ISNULL":
        return value is None
    if node.op == "ISTRUE":
        return value is True
    if node.op == "ISFALSE":
        return value is False
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if node.op in ("<", ">", "<=", ">="):
        if not is_number or node.number is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return {"<": value < node.number, ">": value > node.number, "<=": value <= node.number, ">=": value >= node.number}[node.op]
    if node.number is not None and is_number:
        equal = float(value) == node.number
    else:
        text = _scalar_text(value)
        if text is None:
            return False
        assert node.value is not None
        equal = _wildcard(node.value, text) if "*" in node.value else node.value == text
    return equal if node.op == "=" else not equal


def _build(node: Node, precedence: bool) -> Node:
    if isinstance(node, Comparison):
        return node
    if isinstance(node, BoolOp):
        return BoolOp(node.op, _build(node.left, precedence), _build(node.right, precedence))
    operands = [_build(o, precedence) for o in node.operands]
    operators = list(node.operators)
    if precedence:
        # && binds tighter: fold each run of && first, then join the runs with ||.
        runs: list[Node] = [operands[0]]
        for op, operand in zip(operators, operands[1:], strict=True):
            if op == "&&":
                runs[-1] = BoolOp("&&", runs[-1], operand)
            else:
                runs.append(operand)
        result = runs[0]
        for run in runs[1:]:
            result = BoolOp("||", result, run)
        return result
    result = operands[0]
    for op, operand in zip(operators, operands[1:], strict=True):
        result = BoolOp(op, result, operand)
    return result


def _eval(node: Node, event: Any) -> bool:
    if isinstance(node, Comparison):
        return _compare(node, event)
    if isinstance(node, BoolOp):
        if node.op == "&&":
            return _eval(node.left, event) and _eval(node.right, event)
        return _eval(node.left, event) or _eval(node.right, event)
    return _eval(_build(node, True), event)


def matches(pattern: ParsedPattern, event: Mapping[str, Any]) -> bool:
    """Whether a parsed pattern matches one CloudTrail event; raises PatternError when precedence is ambiguous."""
    if isinstance(pattern, TermPattern):
        text = json.dumps(event, separators=(",", ":"))
        if any(term in text for term in pattern.excluded):
            return False
        if pattern.alternatives:
            return any(term in text for term in pattern.alternatives)
        return all(term in text for term in pattern.required)
    usual = _eval(_build(pattern.root, True), event)
    if pattern.ambiguous:
        left_to_right = _eval(_build(pattern.root, False), event)
        if usual != left_to_right:
            raise PatternError("the pattern mixes && and || without parentheses and its meaning depends on precedence; add parentheses")
    return usual


# --- Judging a pattern over a class of events -------------------------------------------------------------------
#
# A class of events fixes some fields and leaves the rest free. A comparison on a free field is UNKNOWN, AND / OR
# follow Kleene's three-valued logic, and a pattern holds for the whole class only when it evaluates to TRUE: then
# it matches every event of the class, whatever the free fields hold (or whether they are there at all).

Truth = Optional[bool]  # True, False, or None for UNKNOWN


@dataclass(frozen=True)
class Absent:
    """The field is never present in the class."""


@dataclass(frozen=True)
class Const:
    """The field always holds this JSON value."""

    value: Any


@dataclass(frozen=True)
class Shape:
    """The field is always a string: one choice from each segment, concatenated (e.g. arn:<partition>:iam::<12 digits>:root)."""

    segments: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Obj:
    """The field is always an object; listed keys have their own spec, every other key is free."""

    fields: Mapping[str, FieldSpec]


@dataclass(frozen=True)
class Free:
    """Any JSON value; absent too unless `present`."""

    present: bool = False


FieldSpec = Union[Absent, Const, Shape, Obj, Free]
DIGIT: tuple[str, ...] = tuple("0123456789")


@dataclass(frozen=True)
class EventClass:
    name: str
    description: str  # for messages: "every root CreateAccessKey call that succeeds"
    root: Obj


@dataclass(frozen=True)
class ClassVerdict:
    value: Truth
    depends_on: tuple[str, ...] = ()  # selectors whose comparison was UNKNOWN, in pattern order


# Enough for any glob a 1024-character pattern can hold against the short shapes the classes use; past it the
# comparison is UNKNOWN, which can only make a pattern fail.
_MAX_GLOB_STATES = 20000


def _glob_step(pattern: str, states: frozenset[int], char: str) -> frozenset[int]:
    out: set[int] = set()
    for i in states:
        if i < len(pattern) and (pattern[i] == "*" or pattern[i] == char):
            out.add(i if pattern[i] == "*" else i + 1)
    return _glob_closure(pattern, out)


def _glob_closure(pattern: str, states: Iterable[int]) -> frozenset[int]:
    out = set(states)
    stack = list(out)
    while stack:
        i = stack.pop()
        if i < len(pattern) and pattern[i] == "*" and i + 1 not in out:
            out.add(i + 1)
            stack.append(i + 1)
    return frozenset(out)


def glob_over_shape(pattern: str, shape: Shape) -> Truth:
    """Whether `pattern` (with `*` wildcards) matches every string of the shape (True), none (False) or some (None).

    Exact: the glob's NFA is run over every choice of every segment at once, keeping the distinct state sets.
    """
    current: set[frozenset[int]] = {_glob_closure(pattern, {0})}
    for segment in shape.segments:
        following: set[frozenset[int]] = set()
        for states in current:
            for choice in segment:
                reached = states
                for char in choice:
                    reached = _glob_step(pattern, reached, char)
                    if not reached:
                        break
                following.add(reached)
        current = following
        if len(current) > _MAX_GLOB_STATES:
            return None
    accepting = [len(pattern) in states for states in current]
    return True if all(accepting) else False if not any(accepting) else None


def _spec_at(root: FieldSpec, selector: Sequence[Union[str, int]]) -> FieldSpec:
    spec = root
    for part in selector:
        if isinstance(spec, Free):
            return Free()
        if isinstance(spec, Obj):
            spec = Absent() if isinstance(part, int) else spec.fields.get(part, Free())
        elif isinstance(spec, Const):
            value = _resolve(spec.value, (part,))
            spec = Absent() if value is _MISSING else Const(value)
        else:  # Absent, or a Shape (a string has no properties)
            return Absent()
    return spec


def _compare_spec(node: Comparison, spec: FieldSpec) -> Truth:
    if isinstance(spec, Absent):
        return _compare_value(node, _MISSING)
    if isinstance(spec, Const):
        return _compare_value(node, spec.value)
    if isinstance(spec, Obj):
        return _compare_value(node, {})  # only presence and object-ness decide
    if isinstance(spec, Free):
        if node.op in ("EXISTS", "NOTEXISTS") and spec.present:
            return node.op == "EXISTS"
        return None
    if node.op in ("=", "!="):
        assert node.value is not None
        equal = glob_over_shape(node.value, spec)
        return equal if node.op == "=" or equal is None else not equal
    return node.op == "EXISTS"  # a string: present, not null, not boolean, not a number


def _and(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _or(a: Truth, b: Truth) -> Truth:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


def _eval3(node: Node, root: Obj, unknown: list[str]) -> Truth:
    if isinstance(node, Comparison):
        value = _compare_spec(node, _spec_at(root, node.selector))
        if value is None and node.selector_text not in unknown:
            unknown.append(node.selector_text)
        return value
    if isinstance(node, BoolOp):
        left, right = _eval3(node.left, root, unknown), _eval3(node.right, root, unknown)
        return _and(left, right) if node.op == "&&" else _or(left, right)
    return _eval3(_build(node, True), root, unknown)


# JSON escapes these, so a term holding one is not found verbatim in the event text even when the value holds it.
_ESCAPED_CHARS = re.compile(r'["\\\x00-\x1f\x7f-\uffff]')


def _guaranteed_texts(spec: FieldSpec, out: list[Union[str, Shape]]) -> None:
    if isinstance(spec, Const):
        out.append(spec.value if isinstance(spec.value, str) else json.dumps(spec.value, separators=(",", ":")))
    elif isinstance(spec, Shape):
        out.append(spec)
    elif isinstance(spec, Obj):
        for key, child in spec.fields.items():
            if not isinstance(child, Absent) and not (isinstance(child, Free) and not child.present):
                out.append(key)
            _guaranteed_texts(child, out)


def term_guaranteed(term: str, event_class: EventClass) -> bool:
    """Whether every event of the class carries `term` in its text, from its fixed keys and values alone."""
    if _ESCAPED_CHARS.search(term):
        return False
    texts: list[Union[str, Shape]] = []
    _guaranteed_texts(event_class.root, texts)
    for text in texts:
        if isinstance(text, str):
            if term in text:
                return True
        elif "*" not in term and glob_over_shape(f"*{term}*", text) is True:
            return True
    return False


def judge_class(pattern: ParsedPattern, event_class: EventClass) -> ClassVerdict:
    """Whether the pattern matches every event of the class (True), none (False), or depends on free fields (None).

    Raises PatternError when && / || precedence decides the answer.
    """
    if isinstance(pattern, TermPattern):
        # Any term may turn up in a free field, so a term is never known absent; an excluded term can only be known
        # present.
        if any(term_guaranteed(t, event_class) for t in pattern.excluded):
            return ClassVerdict(False)
        if pattern.excluded:
            return ClassVerdict(None, tuple(f"-{t}" for t in pattern.excluded))
        if pattern.alternatives:
            if any(term_guaranteed(t, event_class) for t in pattern.alternatives):
                return ClassVerdict(True)
            return ClassVerdict(None, tuple(f"?{t}" for t in pattern.alternatives))
        missing = tuple(t for t in pattern.required if not term_guaranteed(t, event_class))
        return ClassVerdict(None, missing) if missing else ClassVerdict(True)
    unknown: list[str] = []
    usual = _eval3(_build(pattern.root, True), event_class.root, unknown)
    if pattern.ambiguous:
        left_to_right = _eval3(_build(pattern.root, False), event_class.root, [])
        if usual != left_to_right:
            raise PatternError("the pattern mixes && and || without parentheses and its meaning depends on precedence; add parentheses")
    return ClassVerdict(usual, tuple(unknown) if usual is None else ())
