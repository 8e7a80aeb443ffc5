"""Plumbing shared by the validators: configuration, stack selection, unknown values and message shape.

Every validator catches nothing broadly: an unexpected exception reaches pulumi_policy, which fails the Analyze call,
and the engine treats a failed analyzer as an error, never as a pass. Expected conditions (bad config, unknown
values, malformed documents) become violations with one-sentence messages: which resource, what is wrong, what was
expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pulumi_policy import (
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import (
    ALLOW_UNKNOWN,
    STACKS,
    ConfigError,
    ConfigKey,
    Settings,
    parse_settings,
    schema,
    stack_selected,
)
from .metadata import PolicyMeta
from .values import Res, StackView, current_project_name, current_stack_name

ReportFn = Callable[..., None]


@dataclass(frozen=True)
class Issue:
    """A violation held back until the validator knows no alternative satisfies the policy."""

    message: str
    urn: Optional[str] = None


@dataclass
class Context:
    """What a validator needs: settings, a reporter that de-duplicates, and unknown-value handling."""

    meta: PolicyMeta
    settings: Settings
    report_violation: ReportFn
    stack: Optional[StackView] = None
    resource: Optional[Res] = None
    reported: list[tuple[str, Optional[str]]] = field(default_factory=list)

    @property
    def allow_unknown(self) -> bool:
        return bool(self.settings.values.get(ALLOW_UNKNOWN.name, False))

    def report(self, message: str, urn: Optional[str] = None) -> None:
        if urn is None and self.resource is not None:
            # The engine pins a resource policy's diagnostic to the resource anyway; naming it keeps drivers honest.
            urn = self.resource.urn
        key = (message, urn)
        if key in self.reported:
            return
        self.reported.append(key)
        if urn is None:
            self.report_violation(message)
        else:
            self.report_violation(message, urn)

    def unknown_issue(self, res: Res, prop: str, purpose: str, how: str) -> Optional[Issue]:
        """The violation for a needed value unknown at preview, or None when the config relaxes unknown values."""
        if self.allow_unknown:
            return None
        subject = res.urn if self.stack is not None else res.label
        return Issue(
            f"{subject} has {prop} unknown during preview, so the pack cannot verify {purpose}; "
            f"expected a value known at preview ({how}), or allowUnknownValues: true in the "
            f"'{self.meta.name}' policy config to defer the check to `pulumi up`.",
            res.urn if self.stack is not None else None,
        )

    def unknown(self, res: Res, prop: str, purpose: str, how: str) -> bool:
        """Report a needed unknown value now; returns True when the caller may treat it as passing (relaxed)."""
        issue = self.unknown_issue(res, prop, purpose, how)
        if issue is None:
            return True
        self.report(issue.message, issue.urn)
        return False

    def report_issues(self, issues: list[Optional[Issue]]) -> None:
        for issue in issues:
            if issue is not None:
                self.report(issue.message, issue.urn)


def _not_applicable(args: Any, reason: str) -> None:
    marker = getattr(args, "not_applicable", None)
    if callable(marker):
        marker(reason)  # raises pulumi_policy's not-applicable signal


def stack_context(
    meta: PolicyMeta,
    args: StackValidationArgs,
    report_violation: ReportFn,
    keys: tuple[ConfigKey, ...],
    types: Optional[tuple[str, ...]] = None,
) -> Optional[Context]:
    """Parse config and build the stack view; None when the validator has nothing more to do."""
    try:
        settings = parse_settings(args.get_config(), STACKS, ALLOW_UNKNOWN, *keys)
    except ConfigError as exc:
        report_violation(f"The '{meta.name}' policy config is invalid: {exc}.")
        return None
    view = StackView.build(args.resources, types=types)
    name = view.stack_name or current_stack_name()
    if not stack_selected(name, current_project_name(), settings[STACKS]):
        _not_applicable(args, f"stack '{name}' is not in this policy's 'stacks' config, so it only gets the guards")
        return None
    return Context(meta, settings, report_violation, stack=view)


def resource_context(
    meta: PolicyMeta,
    args: ResourceValidationArgs,
    report_violation: ReportFn,
    keys: tuple[ConfigKey, ...],
    types: tuple[str, ...],
) -> Optional[Context]:
    if args.resource_type not in types:
        return None
    try:
        settings = parse_settings(args.get_config(), ALLOW_UNKNOWN, *keys)
    except ConfigError as exc:
        report_violation(f"The '{meta.name}' policy config is invalid: {exc}.")
        return None
    return Context(meta, settings, report_violation, resource=Res.from_validation_args(args))


def stack_policy(meta: PolicyMeta, validate: Callable[..., None], keys: tuple[ConfigKey, ...]) -> Policy:
    return StackValidationPolicy(
        name=meta.name,
        description=meta.description,
        validate=validate,
        enforcement_level=meta.enforcement,
        config_schema=schema(STACKS, ALLOW_UNKNOWN, *keys),
        severity=meta.severity,
        framework=meta.primary_framework,
        tags=meta.tags,
        remediation_steps=meta.remediation_text,
        url=meta.url,
    )


def resource_policy(meta: PolicyMeta, validate: Callable[..., None], keys: tuple[ConfigKey, ...]) -> Policy:
    return ResourceValidationPolicy(
        name=meta.name,
        description=meta.description,
        validate=validate,
        enforcement_level=meta.enforcement,
        config_schema=schema(ALLOW_UNKNOWN, *keys),
        severity=meta.severity,
        framework=meta.primary_framework,
        tags=meta.tags,
        remediation_steps=meta.remediation_text,
        url=meta.url,
    )
