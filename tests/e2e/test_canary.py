"""`pulumi up` proves the rollout at the mesh's gateways, canary first (issue #13).

The sandbox mesh runs a stable gateway (istio: ingressgateway) and a canary one
(istio: ingressgateway-canary), each a Pod of istio-system whose address the API server
proxies to. The stack's gateway checks probe them through the API server. The tests run in
file order and share one stack, as a user's stack evolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import REPO, WASM_PLUGINS, Sandbox, configure, local_stack, push_plugin
from sandbox.mesh import Mesh
from sandbox.pulumi_cli import LocalStack, Result
from tests.e2e.conftest import clean_namespace

PLUGIN = "e2e-canary-header-authorization"
SECRET = "e2e-canary-wasm-secret"
REPOSITORY = "test-oci/e2e-canary"
NS = mesh_sandbox.NAMESPACE
CHECK = "pulumi-python:dynamic/asmwasm:GatewayCheck"
DENY = b"Forbidden by ASM Wasm Plugin"


@dataclass
class Canary:
    sb: Sandbox
    mesh: Mesh
    stack: LocalStack
    refs: dict[str, str]

    def url(self, name: str) -> str:
        return str(self.sb.api.request("GET", WASM_PLUGINS.format(ns=NS, name=name)).json()["spec"]["url"])


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    sb = Sandbox.running()
    for name in (PLUGIN, f"{PLUGIN}-canary"):
        clean_namespace(sb, NS, name, SECRET)
    mesh = mesh_sandbox.up(sb, fresh=True)
    if others := mesh_sandbox.other_wasm_plugins(sb.api, PLUGIN):
        if set(others) - {f"{PLUGIN}-canary"}:
            pytest.fail(f"WasmPlugins {others} in {NS} would act on the sandbox gateways too")
    wasm = REPO / "plugin" / "plugin.wasm"
    # Two images of the same module with different digests (Docker and OCI layouts): two builds.
    refs = {"first": push_plugin(sb, wasm, repository=REPOSITORY).ref,
            "second": push_plugin(sb, wasm, tag="v2", repository=REPOSITORY, image_format="oci").ref}
    stack = local_stack(sb, state_dir=tmp_path_factory.mktemp("canary") / "pulumi")
    configure(stack, sb, refs["first"], {"pluginName": PLUGIN, "pullSecretName": SECRET,
                                         "canarySelector.istio": "ingressgateway-canary",
                                         "verify.timeoutSeconds": "30"})
    yield Canary(sb, mesh, stack, refs)
    stack.destroy(check=False)
    for name in (PLUGIN, f"{PLUGIN}-canary"):
        clean_namespace(sb, NS, name, SECRET)


def infos(result: Result) -> list[str]:
    return [e["diagnosticEvent"]["message"].strip() for e in result.events()
            if e.get("diagnosticEvent", {}).get("severity") == "info"]


def digest(ref: str) -> str:
    """The hex digest, as the gateways' Wasm cache names the module."""
    return ref.split("@sha256:", 1)[1]


def test_the_preview_shows_canary_then_stable(canary: Canary) -> None:
    text = canary.stack.preview_text().stdout
    names = ("header-authorization-plugin-canary", "header-authorization-check-plugin-canary-default",
             "header-authorization-plugin", "header-authorization-check-plugin-default")
    order = [text.find(f"::{name}]") for name in names]
    assert -1 not in order and order == sorted(order), text


def test_a_good_build_goes_canary_verified_stable_verified(canary: Canary) -> None:
    result = canary.stack.up()
    order = [name for _, typ, name in result.steps()
             if typ in (CHECK, "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin")]
    assert order == ["header-authorization-plugin-canary", "header-authorization-check-plugin-canary-default",
                     "header-authorization-plugin", "header-authorization-check-plugin-default"]
    lines = infos(result)
    first = digest(canary.refs["first"])
    for pod in ("istio-ingressgateway-canary-0", "istio-ingressgateway-0"):
        assert any(f"pod {NS}/{pod} runs sha256:{first[:12]}" in line for line in lines), lines
    assert first in canary.mesh.gateway("canary").running_digests()
    assert first in canary.mesh.gateway("stable").running_digests()
    print("\n" + "\n".join(lines))


def test_a_new_build_that_cannot_be_pulled_stops_at_the_canary(canary: Canary) -> None:
    first, second = canary.refs["first"], canary.refs["second"]
    canary.stack.set_config({"imageRef": second, "registryPassword": "wrong-pull-password"},
                            secret=("registryPassword",))
    result = canary.stack.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "wrong-pull-password" not in output
    message = re.search(r"cluster 'default': gateway check failed after 30s \(istio=ingressgateway-canary\):"
                        r"(\\n  [^\"]*)+", output)
    assert message, output[-3000:]
    failure = message.group(0).replace("\\n", "\n")
    print("\n" + failure)
    assert "pod istio-system/istio-ingressgateway-canary-0" in failure
    assert "the Wasm module did not load" in failure
    # The stable WasmPlugin still names the previous build, and the stable gateway still serves it.
    assert canary.url(PLUGIN) == f"oci://{first}"
    assert canary.url(f"{PLUGIN}-canary") == f"oci://{second}"
    stable = canary.mesh.gateway("stable")
    assert stable.get("/status/418")[:2] == (403, DENY)
    assert stable.get("/status/418", {"allow": "true"})[0] == 418
    assert digest(first) in stable.running_digests()


def test_the_fixed_password_converges(canary: Canary) -> None:
    canary.stack.set_config({"registryPassword": canary.sb.registry.password}, secret=("registryPassword",))
    canary.stack.up()
    second = digest(canary.refs["second"])
    assert second in canary.mesh.gateway("canary").running_digests()
    assert second in canary.mesh.gateway("stable").running_digests()
    assert canary.url(PLUGIN) == f"oci://{canary.refs['second']}"
    assert set(canary.stack.up().change_summary()) == {"same"}


def test_a_reply_other_than_expected_fails_with_expected_and_seen(canary: Canary) -> None:
    canary.stack.set_config({"verify.deniedBody": "Go away", "verify.timeoutSeconds": "5"})
    result = canary.stack.up(check=False)
    output = (result.stdout + result.stderr).replace("\\n", "\n")
    assert result.returncode != 0
    assert "expected 403 'Go away' (text/plain), saw 403 'Forbidden by ASM Wasm Plugin' (text/plain)" in output
    canary.stack.run("config", "rm", "--path", "verify.deniedBody", "--stack", canary.stack.stack,
                     "--config-file", str(canary.stack.config_file))
    canary.stack.up()


def test_the_state_holds_no_clear_secret(canary: Canary) -> None:
    exported = canary.stack.run("stack", "export", "--stack", canary.stack.stack).stdout
    assert canary.sb.registry.password not in exported

