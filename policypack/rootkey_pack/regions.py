"""Which AWS region a resource lives in, so the pack can tell that an alarm watches the region its metric filter
publishes to (CIS AWS 4.3 / 5.3 monitoring, Security Hub CloudWatch.1): a CloudWatch metric exists only in its
region, and an alarm elsewhere waits on a metric that never gets a datapoint. Log groups and topics are regional
too: a same-named log group in another region receives none of the trail's events, and an alarm notifies only topics
in its own region.

pulumi-aws 7 resources take a `region` property that overrides their provider's; otherwise the provider's
`region` decides. Both come with the resources the engine sends the analyzer.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from pulumi_policy.proxy import UnknownValueError

from .values import UNKNOWN, Res, plain


def provider_regions(resources: Iterable[Any], types: Iterable[str]) -> dict[str, Any]:
    """urn -> the region of each resource's provider (a string, UNKNOWN, or None when it names none)."""
    wanted = frozenset(types)
    out: dict[str, Any] = {}
    for resource in resources:
        if getattr(resource, "resource_type", None) not in wanted:
            continue
        provider = getattr(resource, "provider", None)
        region: Any = None
        if provider is not None:
            try:
                props = plain(provider.props)
            except UnknownValueError:
                props = UNKNOWN
            region = props.get("region") if isinstance(props, Mapping) else UNKNOWN
        out[resource.urn] = region
    return out


def region_of(res: Res, providers: Mapping[str, Any]) -> Optional[Any]:
    """The resource's region: a string, UNKNOWN, or None when neither the resource nor its provider names one."""
    own = res.get("region")
    if isinstance(own, str) and own:
        return own
    if own is UNKNOWN:
        return UNKNOWN
    region = providers.get(res.urn)
    return region if (isinstance(region, str) and region) or region is UNKNOWN else None


SAME, DIFFERENT, UNKNOWN_REGION, UNVERIFIABLE = "same", "different", "unknown", "unverifiable"


def compare_regions(first: Any, second: Any) -> str:
    """How two regions from `region_of` relate: SAME, DIFFERENT, UNKNOWN_REGION (one is unknown at preview), or
    UNVERIFIABLE (only one names a region: the other is the default provider's, which the pack cannot see)."""
    if first is UNKNOWN or second is UNKNOWN:
        return UNKNOWN_REGION
    if first == second:
        return SAME  # both named alike, or both on a provider without a region (the run's one default region)
    return UNVERIFIABLE if first is None or second is None else DIFFERENT


_ARN_REGION_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]*):", re.ASCII)


def arn_region(value: Any) -> Optional[str]:
    match = _ARN_REGION_RE.match(value) if isinstance(value, str) else None
    return match.group(1) if match and match.group(1) else None


def arn_in_region(value: Any, region: Any) -> bool:
    """Whether a known ARN may name a resource in `region` (from `region_of`).

    A resource on a provider without a region is taken to be where the ARN says, as `values._name_built_arn` does:
    the program builds such ARNs from the default provider's region, which the pack cannot see."""
    named = arn_region(value)
    if region is UNKNOWN or named is None:
        return False
    return region is None or named == region


def arn_fits(value: Any, target: Res, providers: Mapping[str, Any]) -> bool:
    """Whether a known ARN that names `target` also carries the region `target` is in: its own `region`, else its
    provider's. A name-built ARN (values._name_built_arn) sees only the resource's own property, so without this a
    us-east-1 ARN would pass for a same-named topic on an eu-west-1 provider."""
    region = region_of(target, providers)
    if region is UNKNOWN:
        return False
    return region is None or arn_region(value) == region


def region_problem(subject: str, subject_region: Any, other: str, other_region: Any, consequence: str) -> Optional[str]:
    """Why `subject` (a URN) and `other` (a phrase ending in its verb, e.g. "<urn> publishes its metric") are not
    proven to be in one region; None when they are. Unknown regions are the caller's to report."""
    relation = compare_regions(subject_region, other_region)
    if relation == UNVERIFIABLE:
        return (f"{subject} is in region {subject_region or 'of the default provider'!r} but {other} in "
                f"{other_region or 'the default provider region'!r}, and the pack cannot tell that they are the same "
                f"(set the region on both or on neither)")
    if relation == DIFFERENT:
        return f"{subject} is in region {subject_region!r} but {other} in {other_region!r}, {consequence}"
    return None
