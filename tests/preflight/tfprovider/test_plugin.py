"""go-plugin handshake parsing and provider discovery (no provider binary needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from preflight.tfprovider import plugin


def test_parse_handshake_unix_grpc_line_gives_the_socket():
    assert plugin.parse_handshake("1|5|unix|/tmp/plugin123|grpc|\n") == "/tmp/plugin123"


@pytest.mark.parametrize("line, message", [
    ("Starting provider...", "provider sent no go-plugin handshake, got 'Starting provider...'"),
    ("2|5|unix|/tmp/p|grpc|", "provider speaks go-plugin core protocol 2, this client speaks 1"),
    ("1|6|unix|/tmp/p|grpc|", "provider chose plugin protocol 6, this client speaks tfplugin5"),
    ("1|5|unix|/tmp/p|netrpc|", "provider offers 'netrpc', this client speaks grpc"),
    ("1|5|unix|/tmp/p|grpc|MIIBcert", "provider requires TLS (it announced a server certificate), but no client "
                                      "certificate was offered; PLUGIN_CLIENT_CERT must not be set for it"),
    ("1|5|tcp|0.0.0.0:1234|grpc|", "provider listens on tcp 0.0.0.0:1234; only a unix socket is accepted"),
])
def test_parse_handshake_anything_else_is_refused(line, message):
    with pytest.raises(plugin.PluginError) as info:
        plugin.parse_handshake(line)
    assert str(info.value) == message


def test_child_environment_carries_the_cookie_and_no_aws_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com")
    env = plugin.child_environment(tmp_path)
    assert env["TF_PLUGIN_MAGIC_COOKIE"] == "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
    assert env["PLUGIN_PROTOCOL_VERSIONS"] == "5"
    assert "PLUGIN_CLIENT_CERT" not in env and "AWS_ACCESS_KEY_ID" not in env and "HTTPS_PROXY" not in env
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def _mirror(base: Path, version: str = "5.100.0") -> Path:
    platform_dir = base / "registry.terraform.io/hashicorp/aws" / version / "linux_amd64"
    platform_dir.mkdir(parents=True)
    binary = platform_dir / f"terraform-provider-aws_v{version}_x5"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_find_binary_searches_mirror_layout_in_order(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(plugin.BINARY_ENV, raising=False)
    empty, mirror = tmp_path / "cache", tmp_path / "mirror"
    binary = _mirror(mirror)
    assert plugin.find_binary(search_dirs=[empty, mirror]) == binary


def test_find_binary_environment_variable_wins(tmp_path: Path, monkeypatch):
    binary = _mirror(tmp_path)
    monkeypatch.setenv(plugin.BINARY_ENV, str(binary))
    assert plugin.find_binary(search_dirs=[]) == binary


def test_find_binary_absent_says_where_it_looked_and_how_to_get_it(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(plugin.BINARY_ENV, raising=False)
    with pytest.raises(plugin.PluginError) as info:
        plugin.find_binary(search_dirs=[tmp_path])
    assert str(info.value) == (
        f"terraform-provider-aws 5.100.0 not found (looked in {tmp_path}/registry.terraform.io/hashicorp/aws/5.100.0/"
        f"linux_amd64; set PREFLIGHT_TF_PROVIDER_AWS to the binary's path). Get it with `terraform providers mirror "
        f"DIR` on a configuration requiring hashicorp/aws = 5.100.0, or from a Terraform plugin cache "
        f"(TF_PLUGIN_CACHE_DIR).")


def test_find_binary_explicit_path_must_be_executable(tmp_path: Path):
    path = tmp_path / "provider"
    path.write_text("")
    os.chmod(path, 0o644)
    with pytest.raises(plugin.PluginError) as info:
        plugin.find_binary(path)
    assert str(info.value) == f"provider binary {path} does not exist or is not executable"


def test_find_binary_reads_cache_and_mirror_dirs_from_the_cli_config(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(plugin.BINARY_ENV, raising=False)
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    binary = _mirror(tmp_path / "mirror")
    rc = tmp_path / "terraformrc"
    rc.write_text(f'plugin_cache_dir = "{tmp_path}/cache"\nprovider_installation {{\n  filesystem_mirror {{\n'
                  f'    path    = "{tmp_path}/mirror"\n    include = ["registry.terraform.io/*/*"]\n  }}\n}}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    assert plugin._cli_config_dirs(tmp_path) == [tmp_path / "cache", tmp_path / "mirror"]
    assert plugin.find_binary() == binary


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "terraform-provider-fake"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("body, message", [
    ('echo "Error: plugins are not meant to run directly" >&2\nexit 1\n',
     "provider {binary} exited with status 1 before its handshake:\n  Error: plugins are not meant to run directly"),
    ('[ "$TF_PLUGIN_MAGIC_COOKIE" = d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2 ] || exit 3\n'
     'echo "1|5|tcp|127.0.0.1:1234|grpc|"\nsleep 5\n',
     "provider listens on tcp 127.0.0.1:1234; only a unix socket is accepted"),
])
def test_plugin_process_bad_start_is_a_plugin_error(tmp_path: Path, body, message):
    binary = _script(tmp_path, body)
    with pytest.raises(plugin.PluginError) as info:
        plugin.PluginProcess(binary, start_timeout=10)
    assert str(info.value) == message.format(binary=binary)


def test_plugin_process_silent_provider_times_out(tmp_path: Path):
    binary = _script(tmp_path, "sleep 5\n")
    with pytest.raises(plugin.PluginError) as info:
        plugin.PluginProcess(binary, start_timeout=0.5)
    assert str(info.value) == f"provider {binary} sent no handshake within 0.5s"



def test_plugin_process_exit_before_handshake_quotes_its_stderr_however_late_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The reason a provider gives for exiting is on its stderr, which a thread reads: the error must quote it even
    # when that thread is still behind once the exit is seen (here it starts reading only after 0.5 s).
    drain = plugin.PluginProcess._drain_stderr

    def late_drain(self: plugin.PluginProcess) -> None:
        time.sleep(0.5)
        drain(self)

    monkeypatch.setattr(plugin.PluginProcess, "_drain_stderr", late_drain)
    binary = _script(tmp_path, 'echo "Error: plugins are not meant to run directly" >&2\nexit 1\n')
    with pytest.raises(plugin.PluginError) as info:
        plugin.PluginProcess(binary, start_timeout=10)
    assert str(info.value).endswith(":\n  Error: plugins are not meant to run directly")
