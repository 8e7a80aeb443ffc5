"""Opt-in remediation of CIS 1.4 / Security Hub IAM.4: delete a member account's root access keys through
centralized root access (sts:AssumeRoot with the IAMDeleteRootUserCredentials task policy).

Off by default. Works only for member accounts of an organization with centralized root access enabled, called
from the management account or the delegated administrator for IAM; AssumeRoot cannot target the calling
account. Every deletion (and, in dry-run, every deletion that would happen) is logged at WARNING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from audit.aws import AWS_ERRORS, Clients, describe_error

LOG = logging.getLogger(__name__)

TASK_POLICY_NAME = "IAMDeleteRootUserCredentials"
ROOT_SESSION_SECONDS = 900  # AssumeRoot's maximum


def task_policy_arn(partition: str) -> str:
    return f"arn:{partition}:iam::aws:policy/root-task/{TASK_POLICY_NAME}"


@dataclass(frozen=True)
class Remediation:
    """What was done (or would be done, in dry-run) to one account's root keys."""

    account_id: str
    actions: tuple[str, ...]
    error: str | None = None


def remediate_account(clients: Clients, account_id: str, *, dry_run: bool) -> Remediation:
    """Delete every root access key of `account_id`, active or inactive (CIS 5.0 requires deletion, not
    deactivation). Returns the log of actions; an error stops this account only."""
    partition = clients.partition
    actions: list[str] = []

    def failed(exc: Exception, action: str, denied_hint: str | None = None) -> Remediation:
        error = describe_error(exc, action, denied_hint=denied_hint)
        LOG.error("remediation of account %s: %s", account_id, error)
        return Remediation(account_id, tuple(actions), error)

    try:
        response = clients("sts").assume_root(
            TargetPrincipal=account_id,
            TaskPolicyArn={"arn": task_policy_arn(partition)},
            DurationSeconds=ROOT_SESSION_SECONDS,
        )
    except AWS_ERRORS as exc:
        return failed(
            exc,
            f"sts:AssumeRoot into {account_id}",
            "centralized root access must be enabled and the caller must be the management account or the "
            "delegated administrator for IAM, with sts:AssumeRoot",
        )
    iam = clients.for_credentials(response["Credentials"])("iam")
    try:
        keys: list[dict[str, Any]] = []
        # Without UserName, ListAccessKeys lists the caller's keys: the root session's, i.e. root's keys.
        for page in iam.get_paginator("list_access_keys").paginate():
            keys.extend(page.get("AccessKeyMetadata", []))
    except AWS_ERRORS as exc:
        return failed(exc, f"iam:ListAccessKeys as root of {account_id}")
    if not keys:
        actions.append(f"account {account_id}: the root user has no access key to delete")
        LOG.warning("%s", actions[-1])
    for key in keys:
        key_id = str(key.get("AccessKeyId"))
        status = str(key.get("Status", "unknown")).lower()
        if dry_run:
            actions.append(f"account {account_id}: would delete {status} root access key {key_id} (dry run)")
            LOG.warning("%s", actions[-1])
            continue
        try:
            iam.delete_access_key(AccessKeyId=key_id)
        except AWS_ERRORS as exc:
            # Stop at the first failure: the log so far says exactly which keys are gone.
            return failed(exc, f"iam:DeleteAccessKey {key_id} as root of {account_id}")
        actions.append(f"account {account_id}: deleted {status} root access key {key_id}")
        LOG.warning("%s", actions[-1])
    return Remediation(account_id, tuple(actions))
