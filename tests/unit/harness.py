"""Runs the Pulumi program under Pulumi's mocks and records what it registers.

Alibaba Cloud cannot be reached from here, so its resources and lookups are
answered by these mocks; everything the program decides is checked for real.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "asm-wasm-plugin"
FAKE_ENDPOINT = "asm-test-registry.cn-hangzhou.cr.aliyuncs.com"


# How the engine marks a secret value in resource inputs (pulumi.runtime.rpc).
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270"


def reveal(value: Any) -> Any:
    """The value inside a secret marker (or the value itself)."""
    return value["value"] if is_secret(value) else value


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Outputs of other stacks, for StackReference: stack name -> outputs.
    stacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A preview: an image is not built, so its digest is not known yet.
    preview: bool = False

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider))
        state = dict(args.inputs)
        if args.typ == "docker:index/image:Image" and not self.preview:
            name = str(args.inputs["imageName"]).rsplit(":", 1)[0]
            state["repoDigest"] = f"{name}@{fake_digest(json.dumps(args.inputs, sort_keys=True, default=str))}"
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.inputs.get("name", args.name))
            return name, {"name": name, "outputs": self.stacks.get(name, {}), "secretOutputNames": []}
        resource_id = f"{args.name}-id"
        if args.typ.startswith("kubernetes:") and not args.typ.startswith("pulumi:providers"):
            meta = args.inputs.get("metadata", {})
            resource_id = f"{meta.get('namespace', 'default')}/{meta.get('name', args.name)}"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "alicloud:cs/getRegistryEnterpriseInstances:getRegistryEnterpriseInstances":
            return {
                "ids": args.args.get("ids", []),
                "names": ["asm-test"],
                "instances": [{
                    "id": args.args["ids"][0], "name": "asm-test", "region": "cn-hangzhou",
                    "public_endpoints": [FAKE_ENDPOINT], "publicEndpoints": [FAKE_ENDPOINT],
                    "vpc_endpoints": [], "vpcEndpoints": [],
                    "authorizationToken": "", "tempUsername": "", "specification": "Basic",
                    "namespaceQuota": "3", "namespaceUsage": "1", "repoQuota": "300", "repoUsage": "1",
                    "tags": {},
                }],
                "id": "lookup",
            }
        return {}

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]


@dataclass
class Deployment:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    mocks: RecordingMocks
    options: dict[str, pulumi.ResourceOptions]
    """Resource name -> the options it was registered with (what mocks do not see); a component and
    its one resource share a name: the resource's are here, both in `all_options`."""
    all_options: dict[str, list[pulumi.ResourceOptions]]


def deploy(config: Mapping[str, Any], secret_keys: tuple[str, ...] = ("registryPassword",),
           stacks: Mapping[str, dict[str, Any]] | None = None, preview: bool = False,
           mocks: RecordingMocks | None = None) -> Deployment:
    """Runs __main__.py with `config` (keys without the project prefix) under mocks.

    Pass `mocks` to see what was registered when the program fails.
    """
    mocks = mocks or RecordingMocks()
    mocks.stacks.update(stacks or {})
    mocks.preview = preview
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=preview)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()},
        [f"{PROJECT}:{k}" for k in secret_keys],
    )
    exported: dict[str, pulumi.Output[Any]] = {}
    outputs: dict[str, Any] = {}
    secrets: set[str] = set()
    original_export = pulumi.export

    def record(name: str, value: Any) -> None:
        exported[name] = pulumi.Output.from_input(value)

    options: dict[str, pulumi.ResourceOptions] = {}
    all_options: dict[str, list[pulumi.ResourceOptions]] = {}

    def keep_options(args: pulumi.ResourceTransformationArgs) -> None:
        options[args.name] = args.opts
        all_options.setdefault(args.name, []).append(args.opts)

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        pulumi.runtime.register_stack_transformation(keep_options)
        pulumi.export = record  # type: ignore[assignment]
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original_export

        async def collect(name: str, out: pulumi.Output[Any]) -> None:
            outputs[name] = await out.future()
            if await out.is_secret():
                secrets.add(name)

        return pulumi.Output.all(*[
            pulumi.Output.from_input(collect(name, out)) for name, out in exported.items()
        ])

    run()
    return Deployment(mocks.resources, outputs, secrets, mocks, options, all_options)


def dev_stack_config() -> dict[str, Any]:
    """Pulumi.dev.yaml's values plus test credentials and a wasm file."""
    import yaml  # pulumi depends on PyYAML

    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config: dict[str, Any] = {k.split(":", 1)[1]: v for k, v in raw.items()}
    config["registryUsername"] = "acr-user@example"
    config["registryPassword"] = "s3cret-registry-password"
    return config
