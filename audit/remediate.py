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
ROOT_USER_NAME = "root"


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
    deactivation). Called only for an account whose credential report shows a root key. Returns the log of
    actions; an error stops this account only. Nothing is reported deleted without evidence: the session must
    prove to be the account's root, only the root's keys are deleted, and a second listing must no longer show
    them."""
    partition = clients.partition
    actions: list[str] = []

    def failed(exc: Exception, action: str, denied_hint: str | None = None) -> Remediation:
        return stop(describe_error(exc, action, denied_hint=denied_hint))

    def stop(error: str) -> Remediation:
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
    root = clients.for_credentials(response["Credentials"])
    # AssumeRoot's answer does not prove whose session it is; GetCallerIdentity (no permission needed) does, so
    # keys of another account or principal are never listed as this account's root keys.
    expected_arn = f"arn:{partition}:iam::{account_id}:root"
    try:
        identity = root("sts").get_caller_identity()
    except AWS_ERRORS as exc:
        return failed(exc, f"sts:GetCallerIdentity with the sts:AssumeRoot session for {account_id}")
    arn = identity.get("Arn")
    if arn != expected_arn:
        returned = f"Arn {arn}" if arn else "no Arn"
        return stop(
            f"the sts:AssumeRoot session for {account_id} is not that account's root user: sts:GetCallerIdentity "
            f"returned {returned}, expected {expected_arn}; nothing deleted"
        )
    iam = root("iam")

    def list_root_keys(when: str) -> tuple[list[dict[str, Any]], str | None]:
        keys: list[dict[str, Any]] = []
        try:
            # Without UserName, ListAccessKeys lists the caller's keys: the root session's, i.e. root's keys.
            for page in iam.get_paginator("list_access_keys").paginate():
                keys.extend(page.get("AccessKeyMetadata", []))
        except AWS_ERRORS as exc:
            return keys, describe_error(exc, f"iam:ListAccessKeys as root of {account_id}{when}")
        for key in keys:
            # IAM names no user, or "root", for the root's own keys; any other name is an IAM user's key, which
            # a listing of the root session's keys must not hold, so the whole listing is untrusted.
            user = key.get("UserName")
            if user not in (None, ROOT_USER_NAME):
                return keys, (
                    f"iam:ListAccessKeys as root of {account_id}{when} listed access key {key.get('AccessKeyId')} of "
                    f"user {user}, not of the root user"
                )
            if not key.get("AccessKeyId"):
                return keys, f"iam:ListAccessKeys as root of {account_id}{when} listed a key without an AccessKeyId"
        return keys, None

    keys, error = list_root_keys("")
    if error:
        return stop(f"{error}; nothing deleted")
    if not keys:
        # The report is a snapshot AWS serves for up to 4 hours, so after a deletion (this tool's, an hour ago) it
        # still shows the key. Nothing to delete is no error, and no evidence either: the verdict stays FAIL or
        # WARN until a report generated later shows no key.
        actions.append(
            f"account {account_id}: the root user lists no access key now; the credential report, which shows "
            "one, predates its deletion, and the verdict stands until a newer report confirms it"
        )
        return Remediation(account_id, tuple(actions), None)
    if dry_run:
        for key in keys:
            actions.append(
                f"account {account_id}: would delete {_status(key)} root access key {key['AccessKeyId']} (dry run)"
            )
            LOG.warning("%s", actions[-1])
        return Remediation(account_id, tuple(actions))
    answered: list[dict[str, Any]] = []
    errors: list[str] = []
    for key in keys:
        key_id = str(key["AccessKeyId"])
        try:
            iam.delete_access_key(AccessKeyId=key_id)
        except AWS_ERRORS as exc:
            # Stop at the first failure; the keys deleted before it are still checked below.
            errors.append(describe_error(exc, f"iam:DeleteAccessKey {key_id} as root of {account_id}"))
            break
        answered.append(key)
    if not answered:
        return stop("; ".join(errors))
    # A 200 answer to DeleteAccessKey is not proof (a proxy or a parser may turn anything into {}): only a listing
    # without the key is, so a key is reported deleted only once a second listing no longer holds it.
    remaining, list_error = list_root_keys(" after the deletion")
    if list_error:
        unconfirmed = ", ".join(str(key["AccessKeyId"]) for key in answered)
        return stop("; ".join([*errors, f"{list_error}; the deletion of key {unconfirmed} is unconfirmed"]))
    listed = [str(key["AccessKeyId"]) for key in remaining]
    for key in answered:
        if key["AccessKeyId"] not in listed:
            actions.append(f"account {account_id}: deleted {_status(key)} root access key {key['AccessKeyId']}")
            LOG.warning("%s", actions[-1])
    still = [str(key["AccessKeyId"]) for key in answered if key["AccessKeyId"] in listed]
    if still:
        errors.insert(
            0, f"iam:DeleteAccessKey answered but key {', '.join(still)} is still listed for the root of {account_id}"
        )
    listed_before = {str(key["AccessKeyId"]) for key in keys}
    appeared = [key_id for key_id in listed if key_id not in listed_before]
    if appeared:
        # Not ours to delete unseen: the report did not show it, and the run's verdict must not hide it.
        errors.append(
            f"the root user of {account_id} has access key {', '.join(appeared)} after the deletion, not listed "
            "before; not deleted"
        )
    if errors:
        return stop("; ".join(errors))
    return Remediation(account_id, tuple(actions))


def _status(key: dict[str, Any]) -> str:
    return str(key.get("Status", "unknown")).lower()
