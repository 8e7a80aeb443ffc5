"""Which AWS region a resource lives in, so the pack can tell that an alarm watches the region its metric filter
publishes to (CIS AWS 4.3 / 5.3 monitoring, Security Hub CloudWatch.1): a CloudWatch metric exists only in its
region, and an alarm elsewhere waits on a metric that never gets a datapoint.

pulumi-aws 7 resources take a `region` property that overrides their provider's; otherwise the provider's
`region` decides. Both come with the resources the engine sends the analyzer.
"""

from __future__ import annotations

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
