"""A no-op policy pack: the baseline for bench/pack_bench.py.

By default one resource policy that reads one property and reports nothing, on the same pulumi-policy SDK as the real
pack, so the difference between the two packs' times is the cost of the real pack's analysis plus the SDK's
per-policy overhead. With NOOP_RESOURCE_POLICIES / NOOP_STACK_POLICIES set, it mirrors the real pack's shape
(the SDK deserializes every resource again for each stack policy), so the difference is the real pack's own code.
"""

import os

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)


def _noop_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    args.props.get("name")


def _noop_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    len(args.resources)


def _count(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit():
        raise SystemExit(f"{variable}={value!r} must be a non-negative integer")
    return int(value)


resource_policies = [
    ResourceValidationPolicy(name=f"noop-{i}", description="Reads one property and reports nothing.",
                             validate=_noop_resource)
    for i in range(_count("NOOP_RESOURCE_POLICIES", 1))
]
stack_policies = [
    StackValidationPolicy(name=f"noop-stack-{i}", description="Counts the resources and reports nothing.",
                          validate=_noop_stack)
    for i in range(_count("NOOP_STACK_POLICIES", 0))
]

PolicyPack(
    name="noop-pack",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[*resource_policies, *stack_policies],
)
