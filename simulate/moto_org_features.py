"""IAM centralized root access for moto: the organization features behind `aws_iam_organizations_features`.

Serves the prevention control's centralized root access (enableCentralizedRootAccess; CIS 1.4 / Security Hub IAM.4:
with RootCredentialsManagement on, member accounts need no root credentials at all, and root tasks run through
sts:AssumeRoot). moto 5 has none of these IAM actions, so terraform-provider-aws retried them until it timed out.
This adds, to moto's IAM responses:
- ListOrganizationsFeatures, EnableOrganizationsRootCredentialsManagement, DisableOrganizationsRootCredentialsManagement,
  EnableOrganizationsRootSessions, DisableOrganizationsRootSessions;
and teaches moto's Organizations that `iam.amazonaws.com` is a service that supports trusted access and delegated
administration (AWS lists it for centralized root access).

The rules follow the IAM API reference for these actions:
- the caller's account must belong to an organization (OrganizationNotFoundException) in all-features mode
  (OrganizationNotInAllFeaturesModeException), with trusted access for iam.amazonaws.com enabled
  (ServiceAccessNotEnabledException);
- Enable* only from the management account (CallerIsNotManagementAccountException); List and Disable* from the
  management account or a delegated administrator for IAM (AccountNotManagementOrDelegatedAdministratorException);
- the answer is the organization id and the features now enabled; enabling an enabled feature changes nothing.
Features live per organization id, so a new organization starts with none; `reset()` forgets them all.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from moto.core.exceptions import ServiceException

__all__ = ["FEATURES", "IAM_PRINCIPAL", "enabled_features", "install", "reset"]

ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
ROOT_SESSIONS = "RootSessions"
FEATURES = (ROOT_CREDENTIALS_MANAGEMENT, ROOT_SESSIONS)
IAM_PRINCIPAL = "iam.amazonaws.com"

_lock = threading.Lock()
_features: dict[str, set[str]] = {}
_installed = False


class _IAMOrgError(ServiceException):
    pass


class ServiceAccessNotEnabled(_IAMOrgError):
    code = "ServiceAccessNotEnabledException"
    message = "Trusted access for iam.amazonaws.com is not enabled in your organization."


class OrganizationNotFound(_IAMOrgError):
    code = "OrganizationNotFoundException"
    message = "The request was rejected because no organization is associated with your account."


class NotAllFeatures(_IAMOrgError):
    code = "OrganizationNotInAllFeaturesModeException"
    message = "The request was rejected because your organization does not have All features enabled."


class CallerNotManagement(_IAMOrgError):
    code = "CallerIsNotManagementAccountException"
    message = "The request was rejected because the account making the request is not the management account."


class NotManagementOrDelegated(_IAMOrgError):
    code = "AccountNotManagementOrDelegatedAdministratorException"
    message = ("The request was rejected because the account making the request is not the management account or "
               "delegated administrator account for centralized root access.")


def reset() -> None:
    with _lock:
        _features.clear()


def enabled_features(organization_id: str) -> tuple[str, ...]:
    with _lock:
        return tuple(f for f in FEATURES if f in _features.get(organization_id, set()))


def _organization_of(account_id: str, partition: str) -> tuple[Any, str]:
    """(the management account's Organizations backend, the management account id) for `account_id`."""
    from moto.organizations.models import organizations_backends

    own = organizations_backends[account_id][partition]
    if own.org is not None:
        return own, account_id
    master = organizations_backends.master_accounts.get(account_id)
    if master is None:
        raise OrganizationNotFound()
    master_id, master_partition = master
    return organizations_backends[master_id][master_partition], master_id


def _authorize(account_id: str, partition: str, *, management_only: bool) -> str:
    backend, management_id = _organization_of(account_id, partition)
    org = backend.org
    if org is None:
        raise OrganizationNotFound()
    if getattr(org, "feature_set", "ALL") != "ALL":
        raise NotAllFeatures()
    if not any(s.get("ServicePrincipal") == IAM_PRINCIPAL for s in backend.services):
        raise ServiceAccessNotEnabled()
    if account_id != management_id:
        if management_only:
            raise CallerNotManagement()
        delegated = any(admin.account.id == account_id and IAM_PRINCIPAL in admin.services
                        for admin in backend.admins)
        if not delegated:
            raise NotManagementOrDelegated()
    return org.id


def _action(change: Callable[[set[str]], None] | None, *, management_only: bool) -> Callable[[Any], Any]:
    def respond(self: Any) -> Any:
        from moto.core.responses import ActionResult

        account_id, partition = self.backend.account_id, self.backend.partition
        org_id = _authorize(account_id, partition, management_only=management_only)
        with _lock:
            features = _features.setdefault(org_id, set())
            if change is not None:
                change(features)
            enabled = [f for f in FEATURES if f in features]
        return ActionResult({"OrganizationId": org_id, "EnabledFeatures": enabled})

    respond.__rkg_patched__ = True  # type: ignore[attr-defined]
    return respond


_ACTIONS: dict[str, tuple[Callable[[set[str]], None] | None, bool]] = {
    "list_organizations_features": (None, False),
    "enable_organizations_root_credentials_management": (lambda f: f.add(ROOT_CREDENTIALS_MANAGEMENT), True),
    "disable_organizations_root_credentials_management": (lambda f: f.discard(ROOT_CREDENTIALS_MANAGEMENT), False),
    "enable_organizations_root_sessions": (lambda f: f.add(ROOT_SESSIONS), True),
    "disable_organizations_root_sessions": (lambda f: f.discard(ROOT_SESSIONS), False),
}


def install() -> None:
    """Add the actions to moto's IAM responses and iam.amazonaws.com to Organizations; idempotent."""
    global _installed
    from moto.iam.responses import IamResponse
    from moto.organizations.models import FakeDelegatedAdministrator, FakeServiceAccess

    with _lock:
        if _installed:
            return
        for name, (change, management_only) in _ACTIONS.items():
            existing = getattr(IamResponse, name, None)
            if existing is not None and not getattr(existing, "__rkg_patched__", False):
                # A moto that models these itself wins; two models of one API would disagree.
                continue
            setattr(IamResponse, name, _action(change, management_only=management_only))
        if IAM_PRINCIPAL not in FakeServiceAccess.TRUSTED_SERVICES:
            FakeServiceAccess.TRUSTED_SERVICES.append(IAM_PRINCIPAL)
        if IAM_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(IAM_PRINCIPAL)
        _installed = True
