"""The gateway check as a resource: `pulumi up` succeeds only when the gateways run the build.

A Pulumi dynamic resource whose create and update probe every gateway the WasmPlugin selects
in one data-plane cluster (gatewaycheck.run) and fail with what each gateway did. It is
re-run whenever what it checks changes: the build, the WasmPlugin's generation, the pull
Secret's version. A dynamic provider, not a check in an apply, so that the preview shows the
checks in their order and a failed check is a failed resource that dependents wait for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi.dynamic

from gatewaycheck.judge import Expected

# What decides whether the check runs again (inputs; the kubeconfig is not among them).
_WATCHED = ("build", "triggers", "target", "timeoutSeconds", "expected")


def _run(props: Mapping[str, Any]) -> dict[str, Any]:
    # Imported here, in the provider's process: the Kubernetes client takes half a second to
    # import, which the program itself (and every resource it registers) need not wait for.
    from gatewaycheck.run import check, target_from

    target = target_from(props["target"])
    expected = dict(props["expected"])
    # A None (the value is the gateways' own) does not survive the engine's serialization.
    expected.setdefault("value", None)
    expected["denied_body"] = str(expected["denied_body"]).encode()
    # Numbers come back from the engine as floats.
    expected["denied_status"] = int(expected["denied_status"])
    expected["allowed_status"] = int(expected["allowed_status"])
    passed = check(target, Expected(**expected), props.get("kubeconfig") or None, float(props["timeoutSeconds"]))
    # The kubeconfig stays an input; `expected` and `triggers` (they may hold secrets) are outputs
    # only to be compared on the next run, and are stored encrypted (additional_secret_outputs).
    return {key: props[key] for key in _WATCHED} | {"passed": passed}


class GatewayCheckProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        target = props["target"]
        return pulumi.dynamic.CreateResult(f"{target['cluster']}/{target['namespace']}", _run(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changes = [key for key in _WATCHED if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changes), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(_run(news))


class GatewayCheckArgs(TypedDict):
    cluster: str
    """Data-plane cluster name (for messages)."""
    namespace: str
    """Where the gateway pods run: the WasmPlugin's namespace."""
    selector: Mapping[str, str]
    """The WasmPlugin's selector: the pods to probe."""
    port: int
    """The gateway pods' HTTP port."""
    url: str | None
    """Probe this URL instead of the pods."""
    kubeconfig: pulumi.Input[str] | None
    """The data-plane cluster's kubeconfig (a secret Output); None: the ambient KUBECONFIG."""
    expected: pulumi.Input[Expected]
    """What every gateway must answer (its value may be a secret)."""
    build: pulumi.Input[str]
    """The build the gateways must run: the image digest (expected.build, kept apart so that it stays
    readable when the expected answers are secret)."""
    timeout_s: int
    """How long the gateways get to pass."""
    triggers: pulumi.Input[list[Any]]
    """Values whose change re-runs the check: what the WasmPlugin and the pull Secret are made of
    (secret parts included: the check keeps them encrypted)."""


class GatewayCheck(pulumi.dynamic.Resource, module="asmwasm", name="GatewayCheck"):
    passed: pulumi.Output[list[str]]
    """One line per gateway that passed."""

    def __init__(self, name: str, args: GatewayCheckArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        expected = pulumi.Output.from_input(args["expected"]).apply(_expected_props)
        super().__init__(GatewayCheckProvider(), name, {
            "target": {"cluster": args["cluster"], "namespace": args["namespace"],
                       "selector": dict(args["selector"]), "port": args["port"], "url": args["url"]},
            "kubeconfig": args["kubeconfig"],
            "expected": expected,
            "build": args["build"],
            "timeoutSeconds": args["timeout_s"],
            "triggers": args["triggers"],
            "passed": None,
        }, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["expected", "triggers"])))


def _expected_props(expected: Expected) -> dict[str, Any]:
    return {"path": expected.path, "header": expected.header, "value": expected.value,
            "denied_status": expected.denied_status, "denied_body": expected.denied_body.decode(),
            "denied_content_type": expected.denied_content_type, "allowed_status": expected.allowed_status,
            "build": expected.build}
