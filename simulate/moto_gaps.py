"""Four AWS behaviours moto 5 lacks that the deployed program and its audit depend on.

- CloudTrail DeleteTrail by ARN (detection, CIS 1.4 / CloudWatch.1's trail): AWS accepts a trail's name or ARN;
  moto's delete_trail matches names only and silently does nothing for an ARN, so terraform-provider-aws (which
  deletes by the ARN, the trail's id) "destroyed" a trail that stayed. An unknown trail is TrailNotFoundException,
  as on AWS, so a delete that misses can no longer read as done.
- Security Hub BatchUpdateFindings (the audit, Security Hub IAM.4): the audit resolves its earlier FAIL finding
  through it once the root key is gone. The model updates the customer-owned fields the API reference lists
  (Workflow, Note, Severity, VerificationState, Confidence, Criticality, Types, UserDefinedFields,
  RelatedFindings) of each finding found by Id and ProductArn, and lists the others as UnprocessedFindings
  (FindingNotFound), as AWS does. An unknown workflow status is InvalidInputException.
- CloudFormation DeleteStackInstances by DeploymentTargets (the member-account StackSet of the organization
  rollout): a service-managed StackSet's instances are addressed by OU or root id, and AWS deletes the instances of
  every account under them (as CreateStackInstances created them). moto reads only `Accounts`, so the provider's
  delete removed nothing and DeleteStackSet then failed with StackSetNotEmptyException.
- CloudFormation CreateStackSet's AutoDeployment: moto drops it, so DescribeStackSet said
  auto-deployment was off for a StackSet created with it on (new member accounts would get no audit role). It is
  stored as given and returned by DescribeStackSet, as on AWS.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any, Callable

__all__ = ["install"]

_lock = threading.Lock()
_installed = False
_WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
_UPDATABLE = ("Note", "Severity", "VerificationState", "Confidence", "Criticality", "Types", "UserDefinedFields",
              "RelatedFindings", "Workflow")


def _delete_trail_by_arn(original: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    @functools.wraps(original)
    def delete_trail(self: Any, name: str) -> None:
        from moto.cloudtrail.exceptions import TrailNotFoundException

        if name not in self.trails:
            by_arn = next((key for key, trail in self.trails.items() if trail.arn == name), None)
            if by_arn is None:
                raise TrailNotFoundException(account_id=self.account_id, name=name)
            name = by_arn
        original(self, name)

    delete_trail.__rkg_patched__ = True  # type: ignore[attr-defined]
    return delete_trail


def _batch_update_findings(self: Any) -> str:
    from moto.securityhub.exceptions import InvalidInputException

    body = json.loads(self.body or "{}")
    workflow = body.get("Workflow")
    if workflow is not None and workflow.get("Status") not in _WORKFLOW_STATUSES:
        raise InvalidInputException(op="BatchUpdateFindings",
                                    msg=f"Workflow.Status must be one of {', '.join(_WORKFLOW_STATUSES)}")
    backend = self.securityhub_backend
    processed, unprocessed = [], []
    for ident in body.get("FindingIdentifiers", []):
        finding = next((f for f in backend.findings if f.data.get("Id") == ident.get("Id")
                        and f.data.get("ProductArn") == ident.get("ProductArn")), None)
        if finding is None:
            unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
                                "ErrorMessage": "Finding Not Found"})
            continue
        for key in _UPDATABLE:
            if key not in body:
                continue
            if isinstance(body[key], dict) and isinstance(finding.data.get(key), dict):
                finding.data[key] = {**finding.data[key], **body[key]}
            else:
                finding.data[key] = body[key]
        processed.append(ident)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


def _delete_stack_instances_by_targets(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def delete_stack_instances(self: Any) -> Any:
        targets = (self._get_params().get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []
        if not targets:
            return original(self)
        from moto.core.responses import ActionResult

        stackset = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        org = stackset.instances.org_backend
        ous = set(targets) | {ou.id for ou in org.ou if ou.parent_id in targets}
        accounts = set(self._get_param("Accounts", [])) | {a.id for a in org.accounts if a.parent_id in ous}
        result = self.cloudformation_backend.delete_stack_instances(
            stackset.name, sorted(accounts), self._get_param("Regions", []))
        return ActionResult({"OperationId": result.operations[-1]["OperationId"]})

    delete_stack_instances.__rkg_patched__ = True  # type: ignore[attr-defined]
    return delete_stack_instances


def _create_stack_set_keeping_auto_deployment(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def create_stack_set(self: Any) -> Any:
        result = original(self)
        params = self._get_params()
        stackset = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        auto = params.get("AutoDeployment")
        if auto is not None:
            stackset.auto_deployment = {
                "Enabled": str(auto.get("Enabled", "false")).lower() == "true",
                "RetainStacksOnAccountRemoval": str(auto.get("RetainStacksOnAccountRemoval", "false")).lower() == "true",
            }
        return result

    create_stack_set.__rkg_patched__ = True  # type: ignore[attr-defined]
    return create_stack_set


def install() -> None:
    """Patch moto's CloudTrail backend and Security Hub responses (and route PATCH /findings/batchupdate);
    call before a server starts. Idempotent."""
    global _installed
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudtrail.models import CloudTrailBackend
    from moto.securityhub import urls as securityhub_urls
    from moto.securityhub.responses import SecurityHubResponse

    with _lock:
        if _installed:
            return
        if not getattr(CloudTrailBackend.delete_trail, "__rkg_patched__", False):
            CloudTrailBackend.delete_trail = _delete_trail_by_arn(CloudTrailBackend.delete_trail)  # type: ignore[method-assign]
        if not hasattr(SecurityHubResponse, "batch_update_findings"):
            SecurityHubResponse.batch_update_findings = _batch_update_findings  # type: ignore[attr-defined]
            securityhub_urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
        if not getattr(CloudFormationResponse.delete_stack_instances, "__rkg_patched__", False):
            CloudFormationResponse.delete_stack_instances = _delete_stack_instances_by_targets(  # type: ignore[method-assign]
                CloudFormationResponse.delete_stack_instances)
        if not getattr(CloudFormationResponse.create_stack_set, "__rkg_patched__", False):
            CloudFormationResponse.create_stack_set = _create_stack_set_keeping_auto_deployment(  # type: ignore[method-assign]
                CloudFormationResponse.create_stack_set)
        _installed = True
