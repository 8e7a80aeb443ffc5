"""CloudWatch Logs filter-pattern semantics, to prove a metric filter matches a root CreateAccessKey CloudTrail
event (CIS AWS 4.3 / 5.3 root-usage monitoring, Security Hub CloudWatch.1).

Patterns are parsed and evaluated against the sample CloudTrail events shipped with the pack instead of being
compared as text, so every equivalent spelling is accepted and a weakened one is caught by the event it misses.
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
from typing import Any, Mapping, Optional, Sequence, Union

APPROXIMATIONS = (
    "A comparison on a field the event lacks is false for both = and != (use NOT EXISTS to match absence).",
    "A selector that ends on an array or object is never equal to a string or number.",
    "Mixing && and || at one level without parentheses is accepted only when the usual precedence (&& first) and "
    "left-to-right evaluation agree on every sample event; otherwise it is reported as ambiguous.",
    "Term patterns are matched against the compact JSON text of the event.",
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

_NUMBER_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)$")
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
                if end == -1 or not inner.isdigit():
                    raise self.error("expected an array index like [0]")
                parts.append(int(inner))
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
    value = _resolve(event, node.selector)
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
