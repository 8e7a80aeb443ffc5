"""The one record a preflight run passes from the mock engine to the analyzer driver.

Data flows one way: the program (or a `pulumi stack export` file) produces `RecordedResource`s, and the
analyzer driver turns them into Analyze / AnalyzeStack requests. Nothing here knows about policies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

# The engine's wire encoding of a value not known until apply; pulumi_policy decodes it as unknown.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    # None while unknown, as every new resource's id is during a preview.
    id: str | None
    parent: str | None
    # JSON-shaped values; UNKNOWN (the string above) stands for a value the engine does not know yet.
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    dependencies: Sequence[str] = field(default_factory=tuple)
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The provider reference as the engine writes it: "<provider urn>::<provider id>", or None for components.
    provider: str | None = None
    # Where the program registered the resource (the SDK's RegisterResourceRequest.sourcePosition): a file URI and
    # a 1-based line, or "" / 0 when unknown (a stack export, or a resource the SDK itself registers).
    source_uri: str = ""
    source_line: int = 0
