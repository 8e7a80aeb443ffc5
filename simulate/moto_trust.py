"""Make moto's sts:AssumeRole honour the target role's trust policy, as AWS does.

Serves the organization audit (CIS 1.4 / Security Hub IAM.4 in every member account): the member-account reader
role must trust only the audit function's role, and the only proof that it does is a caller being refused. moto
5 never reads a trust policy (any principal may assume any role), and its IAM-auth mode (INITIAL_NO_AUTH_ACTION_COUNT)
evaluates identity policies only. This patch evaluates the trust policy of the role being assumed against the
caller's identity (an IAM user, the account root, or an assumed-role session, whose aws:PrincipalArn is its role).

Evaluated, as IAM does for a trust policy: explicit Deny wins, then an Allow is needed; Action matches sts:AssumeRole
with wildcards; Principal "*", {"AWS": ...} naming the role, the user, the account root ("arn:...:root" or the bare
12-digit id: any principal of that account). Conditions: StringEquals / StringLike / ArnEquals / ArnLike (and their
negations) on aws:PrincipalArn and aws:PrincipalAccount. Anything else in a Condition (another key or operator)
makes the statement not apply, so an unmodelled condition can only refuse, never admit: fail closed.
Not evaluated: the caller's identity policy (the audit role's sts:AssumeRole grant), SCPs, session policies.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

__all__ = ["enforced", "principal_arn", "trust_allows"]

_lock = threading.Lock()
_depth = 0
_original: Any = None

_STRING_OPERATORS = {
    "StringEquals": (False, False), "StringLike": (True, False), "ArnEquals": (False, False), "ArnLike": (True, False),
    "StringNotEquals": (False, True), "StringNotLike": (True, True), "ArnNotEquals": (False, True),
    "ArnNotLike": (True, True),
}
_KEYS = ("aws:principalarn", "aws:principalaccount")


def principal_arn(caller_arn: str) -> str:
    """aws:PrincipalArn of a caller: an assumed-role session is its role (arn:...:iam::<acct>:role/<name>)."""
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, arn: str, account: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for entry in _as_list(principal.get("AWS", [])):
        if entry == "*" or entry == arn or entry == account:
            return True
        if isinstance(entry, str) and entry.endswith(":root") and entry.split(":")[4:5] == [account]:
            return True
    return False


def _conditions_hold(condition: Any, arn: str, account: str) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    context = {"aws:principalarn": arn, "aws:principalaccount": account}
    for operator, tests in condition.items():
        if operator not in _STRING_OPERATORS or not isinstance(tests, dict):
            return False
        like, negated = _STRING_OPERATORS[operator]
        for key, wanted in tests.items():
            if key.lower() not in _KEYS:
                return False
            actual = context[key.lower()]
            hit = any(fnmatch.fnmatchcase(actual, w) if like else actual == w for w in _as_list(wanted))
            if hit == negated:
                return False
    return True


def _action_matches(action: Any) -> bool:
    return any(fnmatch.fnmatchcase("sts:assumerole", str(a).lower()) for a in _as_list(action))


def trust_allows(policy: Any, caller_arn: str) -> bool:
    """Whether a trust policy lets `caller_arn` call sts:AssumeRole on the role."""
    if isinstance(policy, str):
        try:
            policy = json.loads(unquote(policy))
        except json.JSONDecodeError:
            return False
    if not isinstance(policy, dict):
        return False
    arn = principal_arn(caller_arn)
    account = arn.split(":")[4]
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict) or "NotPrincipal" in statement or "NotAction" in statement:
            continue
        applies = (
            _action_matches(statement.get("Action", []))
            and _principal_matches(statement.get("Principal"), arn, account)
            and _conditions_hold(statement.get("Condition"), arn, account)
        )
        if applies and statement.get("Effect") == "Deny":
            return False
        allowed = allowed or (applies and statement.get("Effect") == "Allow")
    return allowed


def _checked(original: Any) -> Any:
    def assume_role(self: Any) -> Any:
        from moto.iam.models import iam_backends
        from moto.sts.exceptions import STSClientError

        role_arn = self._get_param("RoleArn") or ""
        _, caller_arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        parts = role_arn.split(":", 5)
        role = None
        if len(parts) == 6 and parts[5].startswith("role/"):
            name = parts[5].rsplit("/", 1)[-1]
            role = next((r for r in iam_backends[parts[4]][parts[1]].roles.values() if r.name == name), None)
        if role is None or not trust_allows(role.assume_role_policy_document, caller_arn):
            raise STSClientError(
                "AccessDenied", f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
        return original(self)

    return assume_role


@contextlib.contextmanager
def enforced() -> Iterator[None]:
    """Within the block, moto's AssumeRole (in process, and a ThreadedMotoServer in this process) checks trust."""
    global _depth, _original
    from moto.sts.responses import TokenResponse

    with _lock:
        if _depth == 0:
            _original = TokenResponse.assume_role
            TokenResponse.assume_role = _checked(_original)  # type: ignore[method-assign]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                TokenResponse.assume_role = _original  # type: ignore[method-assign]
