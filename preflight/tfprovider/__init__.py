"""A Pulumi-shaped client for terraform-provider-aws over Terraform's plugin protocol (tfplugin5).

Serves every control (the SCP, CIS 1.4 / Security Hub IAM.4 detection, the audit): pulumi-aws is this provider
wrapped by Pulumi's bridge, so planning and creating the program's resources through it runs the same validation
and the same AWS calls `pulumi up` would (provider 5.100.0 here; pulumi-aws 7 wraps the 6.x line).

Layers, each unaware of the ones above it:
- wire:    plugin.py (go-plugin handshake, the child process, tfplugin5 gRPC calls, diagnostics, captured stderr),
           codec.py (values msgpack-encoded by schema, unknowns as extension 0), schema.py (the schema as types),
           tfplugin5.proto and its generated modules (protogen.py regenerates them);
- mapping: bridge.py (type tokens, camelCase, MaxItems-1 flattening, plurals, a short exceptions table),
           archive.py (the Lambda `code` archive -> zip + source_code_hash), awsconfig.py (aws:* keys -> provider
           configuration; the loopback guard);
- provider.py: `Provider`, the operations an engine calls.

Public API (what preflight's engine integration uses)::

    class ProviderError(Exception):      # .resource (the Pulumi name, or the token), .message, .diagnostics
    class Provider:                       # context manager: starts the plugin, GetProviderSchema,
                                          # PrepareProviderConfig, Configure
        def __init__(self, aws_config: Mapping[str, Any], binary: Path | None = None, *,
                     root: Path | None = None, tokens: Iterable[str] = (), log_path: Path | None = None)
        def check(self, token, name, inputs) -> dict                # autonaming + ValidateResourceTypeConfig
        def plan(self, token, name, inputs, prior=None) -> dict     # PlanResourceChange; unknowns as UNKNOWN
        def create(self, token, name, inputs) -> tuple[str, dict]   # plan + apply: (id, outputs)
        def read(self, token, id, state) -> dict | None             # ReadResource; None when gone
        def delete(self, token, id, state) -> None                  # plan to null + apply
        def invoke(self, token, args) -> dict                       # ReadDataSource

Provider warnings (deprecations) collect in `Provider.warnings` as (resource, message); `Provider.timings` and
`rpc_seconds` hold startup and per-RPC seconds.

`aws_config` holds the stack's aws:* keys without the "aws:" prefix, in Pulumi shapes (endpoints as a list of maps
of service -> URL; strings as the CLI passes them are accepted too). Values in and out are Pulumi-shaped: camelCase
names, preflight.model.UNKNOWN for unknowns, archives as pulumi.asset objects or their wire encoding.
`binary` defaults to $PREFLIGHT_TF_PROVIDER_AWS, then Terraform's plugin cache and mirror directories
(plugin.find_binary). `tokens` lets the caller refuse to start when a service the program uses has no endpoint;
every operation checks its own service again before any request.
"""

from preflight.tfprovider.plugin import PluginError, find_binary
from preflight.tfprovider.provider import Provider, ProviderError

__all__ = ["PluginError", "Provider", "ProviderError", "find_binary"]
