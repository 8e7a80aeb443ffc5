"""Give moto's IAM credential report the root row that AWS puts first in every report.

The root access key audit (CIS 1.4, Security Hub IAM.4, Prowler iam_no_root_access_key) judges the row of
`<root_account>`; moto 5 lists IAM users only, so without this patch every simulated account would read as
"no root row" (ERROR). The patch also makes GetCredentialReport's GeneratedTime the time the report was
generated (moto hard-codes 2015-02-02), so the audit's staleness check sees a fresh report, as on AWS.

Unlike AWS, the rows reflect the simulated state at download time, not at generation time, so a test can change
an account's root keys and see the change in the next report without waiting for a new one.

The patch is applied to moto's IAM classes, not to a backend instance, so it holds for `mock_aws` in process
and for a `ThreadedMotoServer` running in the same process, and it survives moto's backend resets.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

__all__ = [
    "ROOT_USER",
    "RootCredentials",
    "install",
    "installed",
    "require_existing_roles",
    "reset",
    "root_row",
    "set_root_credentials",
]

# How long GenerateCredentialReport reuses an existing report (IAM User Guide, "Getting credential reports").
REPORT_REUSE = timedelta(hours=4)
# AWS's literal user name for the root row of a credential report.
ROOT_USER = "<root_account>"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"
# Stable stand-in for the account's creation date; AWS reports the real one, nothing in the audit reads it.
_ROOT_CREATION_TIME = "2020-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class RootCredentials:
    """The root user's access-key (and MFA) state of one simulated account; None renders as AWS does: "N/A"."""

    key_1_active: bool = False
    key_1_last_rotated: str | None = None
    key_1_last_used_date: str | None = None
    key_1_last_used_region: str | None = None
    key_1_last_used_service: str | None = None
    key_2_active: bool = False
    key_2_last_rotated: str | None = None
    key_2_last_used_date: str | None = None
    key_2_last_used_region: str | None = None
    key_2_last_used_service: str | None = None
    mfa_active: bool = True

    def __post_init__(self) -> None:
        # Fail at the call site, not as a puzzling report later: the row is CSV, so a comma or newline in a
        # value would shift columns.
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type == "bool":
                if not isinstance(value, bool):
                    raise TypeError(f"RootCredentials.{field.name} must be a bool, got {value!r}")
                continue
            if value is not None and (not isinstance(value, str) or any(c in value for c in ',\r\n"')):
                raise ValueError(
                    f"RootCredentials.{field.name} must be None or a string without comma, quote or newline, "
                    f"got {value!r}"
                )


_lock = threading.Lock()
_credentials: dict[str, RootCredentials] = {}
_installed = False
_roles_required = False


def _na(value: str | None) -> str:
    return "N/A" if value is None else value


def _flag(value: bool) -> str:
    return "true" if value else "false"


def root_row(account_id: str, creds: RootCredentials) -> str:
    """The root row exactly as AWS writes it (22 columns, no trailing newline)."""
    return ",".join(
        [
            ROOT_USER,
            f"arn:aws:iam::{account_id}:root",
            _ROOT_CREATION_TIME,
            "not_supported",  # password_enabled: root always has a password, AWS reports not_supported
            "no_information",  # password_last_used
            "not_supported",  # password_last_changed
            "not_supported",  # password_next_rotation
            _flag(creds.mfa_active),
            _flag(creds.key_1_active),
            _na(creds.key_1_last_rotated),
            _na(creds.key_1_last_used_date),
            _na(creds.key_1_last_used_region),
            _na(creds.key_1_last_used_service),
            _flag(creds.key_2_active),
            _na(creds.key_2_last_rotated),
            _na(creds.key_2_last_used_date),
            _na(creds.key_2_last_used_region),
            _na(creds.key_2_last_used_service),
            "false",  # cert_1_active
            "N/A",  # cert_1_last_rotated
            "false",  # cert_2_active
            "N/A",  # cert_2_last_rotated
        ]
    )


def set_root_credentials(account_id: str, creds: RootCredentials) -> None:
    """Set the root row that `account_id`'s next GetCredentialReport returns."""
    if not (isinstance(account_id, str) and len(account_id) == 12 and account_id.isdigit()):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    if not isinstance(creds, RootCredentials):
        raise TypeError(f"creds must be a RootCredentials, got {type(creds).__name__}")
    with _lock:
        _credentials[account_id] = creds


def reset() -> None:
    """Forget every account's root credentials (each account is back to a clean root row, no keys) and turn
    require_existing_roles off."""
    global _roles_required
    with _lock:
        _credentials.clear()
        _roles_required = False


def require_existing_roles(enabled: bool = True) -> None:
    """Make moto's AssumeRole answer AccessDenied when the role does not exist in the target account, as AWS
    does; moto otherwise lets any role ARN be assumed. Needs install(). Lets org-mode tests and demos make an
    account unreachable by not creating its audit role."""
    global _roles_required
    with _lock:
        _roles_required = enabled


def _assume_role_checked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _roles_required:
            from moto.sts.exceptions import STSClientError
            from moto.iam.models import iam_backends

            role_arn: str = kwargs.get("role_arn") or ""
            # arn:<partition>:iam::<account>:role/<path/>name
            parts = role_arn.split(":", 5)
            if len(parts) == 6 and parts[5].startswith("role/"):
                account_id, partition = parts[4], parts[1]
                role_name = parts[5].rsplit("/", 1)[-1]
                roles = iam_backends[account_id][partition].roles.values()
                if not any(role.name == role_name for role in roles):
                    raise STSClientError(
                        "AccessDenied",
                        f"User: arn:{partition}:iam::{self.account_id}:user/moto is not authorized to perform: "
                        f"sts:AssumeRole on resource: {role_arn}",
                    )
        return original(self, *args, **kwargs)

    assume_role.__rkg_patched__ = True  # type: ignore[attr-defined]
    return assume_role


def installed() -> bool:
    return _installed


def _with_root_row(original: Callable[[Any], str]) -> Callable[[Any], str]:
    @functools.wraps(original)
    def get_credential_report(self: Any) -> str:
        report = original(self)  # raises ReportNotPresent first, as AWS does before a report exists
        header, sep, users = report.partition("\n")
        with _lock:
            creds = _credentials.get(self.account_id, RootCredentials())
        return header + sep + root_row(self.account_id, creds) + "\n" + users

    get_credential_report.__rkg_patched__ = True  # type: ignore[attr-defined]
    return get_credential_report


def _recording_generation_time(original: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(original)
    def generate_report(self: Any) -> None:
        # AWS reuses a report younger than 4 hours and generates a new one after that. Without the renewal a
        # long-running moto server (demo, bench) would age into the audit's staleness limit and read as ERROR.
        now = datetime.now(timezone.utc)
        generated = getattr(self, "_rkg_generated_at", None)
        # moto's own flag unset means no report exists (never generated, or dropped by the simulation): a new one.
        if generated is None or not self.credential_report or now - generated >= REPORT_REUSE:
            self._rkg_generated_at = now
        original(self)

    generate_report.__rkg_patched__ = True  # type: ignore[attr-defined]
    return generate_report


def _with_generated_time(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def get_credential_report(self: Any) -> Any:
        result = original(self)
        generated = getattr(self.backend, "_rkg_generated_at", None) or datetime.now(timezone.utc)
        payload = result.result
        if isinstance(payload, dict):
            payload["GeneratedTime"] = generated.strftime("%Y-%m-%dT%H:%M:%SZ")
        return result

    get_credential_report.__rkg_patched__ = True  # type: ignore[attr-defined]
    return get_credential_report


def install() -> None:
    """Patch moto's IAM backend and response classes; calling it again does nothing."""
    global _installed
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse as IAMResponse
    from moto.sts.models import STSBackend

    with _lock:
        if _installed:
            return
        if not getattr(IAMBackend.get_credential_report, "__rkg_patched__", False):
            IAMBackend.get_credential_report = _with_root_row(IAMBackend.get_credential_report)  # type: ignore[method-assign,assignment]
        if not getattr(IAMBackend.generate_report, "__rkg_patched__", False):
            IAMBackend.generate_report = _recording_generation_time(IAMBackend.generate_report)  # type: ignore[method-assign,assignment]
        if not getattr(IAMResponse.get_credential_report, "__rkg_patched__", False):
            IAMResponse.get_credential_report = _with_generated_time(IAMResponse.get_credential_report)  # type: ignore[method-assign,assignment]
        if not getattr(STSBackend.assume_role, "__rkg_patched__", False):
            STSBackend.assume_role = _assume_role_checked(STSBackend.assume_role)  # type: ignore[method-assign,assignment]
        _installed = True
