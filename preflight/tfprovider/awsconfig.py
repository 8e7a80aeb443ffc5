"""The stack's `aws:*` config keys -> the provider configuration, and the loopback guard.

Mapping layer. A Pulumi user points `pulumi up` at moto or LocalStack with `aws:endpoints`,
`aws:skipCredentialsValidation`, `aws:s3UsePathStyle` ...; the same keys, in the same shapes (a list of maps of
service -> URL for endpoints), configure the provider here, so one stack file serves both.

No request may leave loopback. `ProviderSettings.check_services` refuses (before any request) a service without an
endpoint, and `from_stack_config` refuses an endpoint or proxy that is not a loopback URL, an instance-metadata
lookup, and shared config files. Credentials default to moto's dummy keys; the child process gets no AWS_* variables.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from preflight.tfprovider import bridge
from preflight.tfprovider.schema import Block


class ConfigError(ValueError):
    """A bad `aws:*` key: names the key, the value and what is allowed."""


# The services each Terraform type calls, where the type's name does not start with the endpoint key.
_SERVICE_PREFIX_EXCEPTIONS: Mapping[str, str] = {
    "cloudwatch_log_": "logs",
    "cloudwatch_event_": "events",
    "cloudwatch_query_definition": "logs",
}
_DATA_SOURCE_SERVICES: Mapping[str, tuple[str, ...]] = {
    "aws_caller_identity": ("sts",),
    "aws_region": (),
    "aws_partition": (),
    "aws_regions": ("ec2",),
    "aws_availability_zones": ("ec2",),
}
# Settings the client decides, so the guard cannot be configured away.
_FORCED = {"skip_metadata_api_check": "true"}
_REFUSED = ("shared_config_files", "shared_credentials_files", "profile", "ec2_metadata_service_endpoint",
            "ec2_metadata_service_endpoint_mode", "custom_ca_bundle")
_DEFAULTS = {"access_key": "test", "secret_key": "test", "max_retries": 1, "region": "us-east-1"}


def is_loopback_url(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    host = parsed.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def services_for(tf_type: str, endpoint_keys: Iterable[str], *, data_source: bool = False) -> tuple[str, ...]:
    """The endpoint keys a Terraform resource or data source type sends requests to."""
    if data_source and tf_type in _DATA_SOURCE_SERVICES:
        return _DATA_SOURCE_SERVICES[tf_type]
    rest = tf_type.removeprefix("aws_")
    for prefix, service in _SERVICE_PREFIX_EXCEPTIONS.items():
        if rest.startswith(prefix):
            return (service,)
    keys = sorted(endpoint_keys, key=len, reverse=True)
    for key in keys:
        if rest == key or rest.startswith(key + "_"):
            return (key,)
    raise ConfigError(f"cannot tell which AWS service {tf_type} calls, so its endpoint cannot be checked; "
                      f"refusing to send it anywhere")


@dataclass(frozen=True)
class ProviderSettings:
    config: Mapping[str, Any]          # Terraform-shaped provider configuration
    endpoints: Mapping[str, str]       # service key -> loopback URL
    endpoint_keys: frozenset[str] = field(default_factory=frozenset)

    def check_services(self, services: Iterable[str], what: str) -> None:
        missing = sorted(set(services) - set(self.endpoints))
        if missing:
            raise ConfigError(
                f"{what} calls AWS service(s) {', '.join(missing)} but aws:endpoints sets no URL for "
                f"{'it' if len(missing) == 1 else 'them'}; the request would leave loopback. Add "
                + ", ".join(f"{{{s}: http://127.0.0.1:PORT}}" for s in missing) + " to aws:endpoints")

    def startup_services(self) -> tuple[str, ...]:
        """The services Configure itself may call: STS to validate credentials and find the account id (IAM too,
        as the credential chain's account-id fallback)."""
        needed = []
        if not self.config.get("skip_credentials_validation"):
            needed.append("sts")
        if not self.config.get("skip_requesting_account_id"):
            needed += ["sts", "iam"]
        return tuple(dict.fromkeys(needed))


def _coerce_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"aws:{key} must be true or false, got {value!r}")


def _parse(key: str, value: Any) -> Any:
    # The CLI hands config as strings; structured values come JSON-encoded.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"aws:{key} is not valid JSON: {exc}") from None
    return value


def from_stack_config(aws_config: Mapping[str, Any], provider_block: Block) -> ProviderSettings:
    """Build and check the provider configuration from the stack's aws:* keys (prefix removed, Pulumi shapes)."""
    endpoint_block = provider_block.blocks["endpoints"].block
    endpoint_keys = frozenset(endpoint_block.attributes)
    values: dict[str, Any] = {}
    for key, raw in aws_config.items():
        key = key.removeprefix("aws:")
        values[key] = _parse(key, raw)

    for key in ("skipMetadataApiCheck",):
        if key in values and not _coerce_bool(key, values[key]):
            raise ConfigError(f"aws:{key} is {values[key]!r}; it must be true (or unset): the instance metadata "
                              f"service is not on loopback")
    for key in ("skipCredentialsValidation", "skipRequestingAccountId", "skipRegionValidation", "s3UsePathStyle",
                "insecure", "useFipsEndpoint", "useDualstackEndpoint"):
        if key in values:
            values[key] = _coerce_bool(key, values[key])
    if "maxRetries" in values:
        try:
            values["maxRetries"] = int(values["maxRetries"])
        except (TypeError, ValueError):
            raise ConfigError(f"aws:maxRetries must be a whole number, got {values['maxRetries']!r}") from None
        if values["maxRetries"] < 0:
            raise ConfigError(f"aws:maxRetries must be 0 or more, got {values['maxRetries']}")

    endpoints_raw = values.pop("endpoints", [])
    if isinstance(endpoints_raw, Mapping):
        endpoints_raw = [endpoints_raw]
    if not isinstance(endpoints_raw, list) or not all(isinstance(e, Mapping) for e in endpoints_raw):
        raise ConfigError(f"aws:endpoints must be a list of maps of service name to URL, got {endpoints_raw!r}")
    endpoints: dict[str, str] = {}
    endpoint_fields = bridge.fields(endpoint_block, "provider", top=False)
    for entry in endpoints_raw:
        for service, url in entry.items():
            field_ = endpoint_fields.get(service)
            if field_ is None:
                raise ConfigError(f"aws:endpoints names {service!r}, which is not a service the provider knows "
                                  f"(e.g. {', '.join(sorted(endpoint_fields)[:5])} ...)")
            if not isinstance(url, str) or not is_loopback_url(url):
                raise ConfigError(f"aws:endpoints {service} is {url!r}; only http(s) URLs on loopback "
                                  f"(127.0.0.0/8, ::1, localhost) are allowed")
            endpoints[field_.tf] = url
    for key in ("httpProxy", "httpsProxy"):
        if key in values and values[key] and not is_loopback_url(str(values[key])):
            raise ConfigError(f"aws:{key} is {values[key]!r}; only a loopback proxy is allowed")

    try:
        tf = bridge.to_tf(provider_block, values, "provider") or {}
    except bridge.BridgeError as exc:
        raise ConfigError(f"aws:{exc.path}: {exc.reason}") from None
    for name in _REFUSED:
        if tf.get(name) not in (None, [], ""):
            raise ConfigError(f"aws:{bridge.camel(name)} is set; it cannot be used here, since it could send "
                              f"requests or credentials somewhere other than the configured loopback endpoints")
    for name, default in _DEFAULTS.items():
        if tf.get(name) is None:
            tf[name] = default
    tf.update(_FORCED)
    tf["endpoints"] = [endpoints] if endpoints else []
    return ProviderSettings(config=tf, endpoints=endpoints, endpoint_keys=endpoint_keys)
