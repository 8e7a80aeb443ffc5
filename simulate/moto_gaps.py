"""Two AWS behaviours moto 5 lacks that the deployed program and its audit depend on.

- CloudTrail DeleteTrail by ARN (detection, CIS 1.4 / CloudWatch.1's trail): AWS accepts a trail's name or ARN;
  moto's delete_trail matches names only and silently does nothing for an ARN, so terraform-provider-aws (which
  deletes by the ARN, the trail's id) "destroyed" a trail that stayed. An unknown trail is TrailNotFoundException,
  as on AWS, so a delete that misses can no longer read as done.
- Security Hub BatchUpdateFindings (the audit, Security Hub IAM.4): the audit resolves its earlier FAIL finding
  through it once the root key is gone. The model updates the customer-owned fields the API reference lists
  (Workflow, Note, Severity, VerificationState, Confidence, Criticality, Types, UserDefinedFields,
  RelatedFindings) of each finding found by Id and ProductArn, and lists the others as UnprocessedFindings
  (FindingNotFound), as AWS does. An unknown workflow status is InvalidInputException.
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


def install() -> None:
    """Patch moto's CloudTrail backend and Security Hub responses (and route PATCH /findings/batchupdate);
    call before a server starts. Idempotent."""
    global _installed
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
        _installed = True
