"""Helpers for the program tests: run the real program under preflight.engine and query what it registered.

Runs are cached per config, so each distinct variant costs one engine run per test process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping
from unittest import mock

from preflight.engine import run_program
from preflight.model import RecordedResource

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT = "root-key-guardrails"
STACK = "dev"


def key(name: str) -> str:
    return f"{PROJECT}:{name}"


def encode(value: Any) -> str:
    """A config value as the CLI puts it in PULUMI_CONFIG."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class Registered:
    resources: tuple[RecordedResource, ...]

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def document(self, name: str, prop: str = "policy") -> dict[str, Any]:
        return json.loads(self.named(name).inputs[prop])

    @property
    def stack_outputs(self) -> Mapping[str, Any]:
        return self.one("pulumi:pulumi:Stack").outputs

    def types(self) -> list[str]:
        return sorted(r.type for r in self.resources)


@lru_cache(maxsize=None)
def _run(items: tuple[tuple[str, str], ...], preview: bool) -> Registered:
    return Registered(tuple(run_program(PROJECT_DIR, STACK, dict(items), preview=preview)))


def program(overrides: Mapping[str, Any] | None = None, *, preview: bool = True) -> Registered:
    """The program's registrations with `overrides` (short keys, Python values) on top of the defaults."""
    items = tuple(sorted((key(k), encode(v)) for k, v in (overrides or {}).items()))
    return _run(items, preview)



def program_with_secrets(overrides: Mapping[str, Any], secret: Iterable[str], *, preview: bool = True) -> Registered:
    """As `program`, with the short keys in `secret` set with --secret. The CLI passes their names to the SDK
    (PULUMI_CONFIG_SECRET_KEYS) and the engine passes none, so they are handed to set_all_config here. Not cached."""
    from pulumi.runtime import config as runtime_config

    secret_keys = [key(k) for k in secret]
    set_all_config = runtime_config.set_all_config

    def with_secrets(config: dict[str, str], _secret_keys: list[str] | None = None) -> None:
        set_all_config(config, secret_keys)

    config = {key(k): encode(v) for k, v in overrides.items()}
    with mock.patch.object(runtime_config, "set_all_config", with_secrets):
        return Registered(tuple(run_program(PROJECT_DIR, STACK, config, preview=preview)))
