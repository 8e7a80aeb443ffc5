"""Exact sets of AWS account ids, for deciding whether an SCP denies root access-key creation in *every* account
(CIS AWS 1.4 / Security Hub IAM.4 / Control Tower AWS-GR_RESTRICT_ROOT_USER_ACCESS_KEYS).

An account id is a word of fixed length over a digit alphabet (12 decimal digits in AWS; tests shrink both to
compare against brute force). A set of them is a quasi-reduced multi-valued decision diagram: one node per level
and distinct residual set, hash-consed so equal sets are the same node. Union, intersection and complement are
memoised products, so "is there an account whose root is not denied" is an equality test with the full set, and a
witness is the smallest account outside it. The sets come from IAM wildcard patterns (`*`, `?`) matched against a
text that embeds the account once (the root user's ARN, or the bare id): the pattern's automaton runs over the text
before the account, then one level per digit, then over the text after it. No probe accounts, so no document can
exhaust a budget of them; a node budget bounds memory, and exceeding it is a verdict (`TooComplex`), never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from .text import ascii_lower

DIGITS = "0123456789"
ACCOUNT_LENGTH = 12
MAX_NODES = 200_000

# Pattern tokens: a literal character, `?` (one character), `*` (any run).
ONE = "\x00?"
ANY = "\x00*"


class TooComplex(Exception):
    """The document's account patterns need more decision-diagram nodes than the budget allows."""


def glob_tokens(pattern: str, *, wildcards: bool = True, escaped: Sequence[str] = ("\x01", "\x02")) -> list[str]:
    """Tokens of an IAM pattern; `escaped` characters stand for `${*}` / `${?}` and stay literal `*` / `?`."""
    out: list[str] = []
    for ch in pattern:
        if wildcards and ch == "*":
            if not out or out[-1] != ANY:
                out.append(ANY)
        elif wildcards and ch == "?":
            out.append(ONE)
        elif ch == escaped[0]:
            out.append("*")
        elif ch == escaped[1]:
            out.append("?")
        else:
            out.append(ch)
    return out


def _closure(tokens: Sequence[str], states: frozenset[int]) -> frozenset[int]:
    # A star also matches the empty run, so reaching it reaches the token after it.
    out = set(states)
    stack = list(states)
    while stack:
        i = stack.pop()
        if i < len(tokens) and tokens[i] == ANY and i + 1 not in out:
            out.add(i + 1)
            stack.append(i + 1)
    return frozenset(out)


def _step(tokens: Sequence[str], states: frozenset[int], ch: str, fold: bool) -> frozenset[int]:
    nxt: set[int] = set()
    for i in states:
        if i >= len(tokens):
            continue
        tok = tokens[i]
        if tok == ANY:
            nxt.add(i)
        elif tok == ONE or tok == ch or (fold and ascii_lower(tok) == ascii_lower(ch)):
            nxt.add(i + 1)
    return _closure(tokens, frozenset(nxt))


def _run(tokens: Sequence[str], states: frozenset[int], text: str, fold: bool) -> frozenset[int]:
    for ch in text:
        if not states:
            break
        states = _step(tokens, states, ch, fold)
    return states


@dataclass
class Universe:
    """The account ids of one alphabet and length, and the decision-diagram nodes built over them."""

    alphabet: str = DIGITS
    length: int = ACCOUNT_LENGTH
    max_nodes: int = MAX_NODES
    _nodes: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    _unique: dict[tuple[int, tuple[int, ...]], int] = field(default_factory=dict)
    _memo: dict[tuple[str, int, int], int] = field(default_factory=dict)
    _empty: list[int] = field(default_factory=list)
    _full: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Terminals live at level `length`: node 0 is the empty set, node 1 the full one.
        self._nodes = [(self.length, ()), (self.length, ())]
        self._empty = [0] * (self.length + 1)
        self._full = [1] * (self.length + 1)
        for level in range(self.length - 1, -1, -1):
            self._empty[level] = self._node(level, (self._empty[level + 1],) * len(self.alphabet))
            self._full[level] = self._node(level, (self._full[level + 1],) * len(self.alphabet))

    @property
    def empty(self) -> int:
        return self._empty[0]

    @property
    def full(self) -> int:
        return self._full[0]

    def _node(self, level: int, children: tuple[int, ...]) -> int:
        key = (level, children)
        found = self._unique.get(key)
        if found is not None:
            return found
        if len(self._nodes) >= self.max_nodes:
            raise TooComplex(f"more than {self.max_nodes} decision-diagram nodes")
        self._nodes.append(key)
        self._unique[key] = len(self._nodes) - 1
        return len(self._nodes) - 1

    def _level(self, node: int) -> int:
        return self._nodes[node][0]

    def constant(self, value: bool) -> int:
        return self.full if value else self.empty

    def negate(self, node: int) -> int:
        if node in (0, 1):
            return 1 - node
        key = ("not", node, 0)
        if key in self._memo:
            return self._memo[key]
        level, children = self._nodes[node]
        result = self._node(level, tuple(self.negate(c) for c in children))
        self._memo[key] = result
        return result

    def _apply(self, op: str, a: int, b: int) -> int:
        level = self._level(a)
        if op == "and":
            if a == self._empty[level] or b == self._empty[level] or a == b:
                return a if a == b else self._empty[level]
            if a == self._full[level]:
                return b
            if b == self._full[level]:
                return a
        else:
            if a == self._full[level] or b == self._full[level] or a == b:
                return a if a == b else self._full[level]
            if a == self._empty[level]:
                return b
            if b == self._empty[level]:
                return a
        if a > b:
            a, b = b, a
        key = (op, a, b)
        if key in self._memo:
            return self._memo[key]
        children_a, children_b = self._nodes[a][1], self._nodes[b][1]
        result = self._node(level, tuple(self._apply(op, x, y) for x, y in zip(children_a, children_b, strict=True)))
        self._memo[key] = result
        return result

    def union(self, *nodes: int) -> int:
        out = self.empty
        for n in nodes:
            out = self._apply("or", out, n)
        return out

    def intersect(self, *nodes: int) -> int:
        out = self.full
        for n in nodes:
            out = self._apply("and", out, n)
        return out

    def matching(self, tokens: Sequence[str], before: str, after: str, *, fold: bool = False) -> int:
        """The accounts `a` for which the token pattern matches the whole text `before + a + after`."""
        start = _run(tokens, _closure(tokens, frozenset({0})), before, fold)
        memo: dict[tuple[int, frozenset[int]], int] = {}
        end = len(tokens)

        def build(level: int, states: frozenset[int]) -> int:
            if not states:
                return self._empty[level]
            if level == self.length:
                return 1 if end in _run(tokens, states, after, fold) else 0
            key = (level, states)
            if key not in memo:
                memo[key] = self._node(level, tuple(build(level + 1, _step(tokens, states, ch, fold)) for ch in self.alphabet))
            return memo[key]

        return build(0, start)

    def member(self, node: int, account: str) -> bool:
        for ch in account:
            if node in (0, 1):
                break
            node = self._nodes[node][1][self.alphabet.index(ch)]
        return node == 1

    def smallest_outside(self, node: int) -> Optional[str]:
        """The smallest account (in alphabet order) not in the set; None when the set holds every account."""
        if node == self.full:
            return None
        out: list[str] = []
        level = 0
        while level < self.length:
            children = self._nodes[node][1]
            index = next(i for i, c in enumerate(children) if c != self._full[level + 1])
            out.append(self.alphabet[index])
            node = children[index]
            level += 1
        return "".join(out)

    def every_account(self) -> list[str]:
        """Every account of the universe, for brute-force comparison on small universes."""
        words = [""]
        for _ in range(self.length):
            words = [w + ch for w in words for ch in self.alphabet]
        return words
