"""A data-plane cluster pulling from a registry host of its own (a VPC endpoint in ACR), at the mesh's gateway.

The sandbox has one data-plane cluster (the ambient kubeconfig, `default`; istiod's cluster id
`Kubernetes`) and one registry, reachable as 127.0.0.1:PORT and as localhost:PORT (its certificate
names both): the stack pushes to the first, and tells the cluster to pull from the second, as a
cluster would from its VPC endpoint. Its WasmPlugin then selects that cluster's gateways by Istio's
`topology.istio.io/cluster` label. The canary gateway plays the cluster's gateway.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.local_stack import SECRETS, WASM_PLUGINS, Sandbox, configure, local_stack
from sandbox.mesh import Mesh
from sandbox.mesh_config import CANARY, CLUSTER_ID
from sandbox.pulumi_cli import LocalStack
from tests.e2e.conftest import clean_namespace

PLUGIN = "e2e-host-header-authorization"
SECRET = "e2e-host-wasm-secret"
NS = mesh_sandbox.NAMESPACE


@dataclass
class Hosted:
    sb: Sandbox
    mesh: Mesh
    stack: LocalStack
    vpc_host: str


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    sb = Sandbox.running()
    clean_namespace(sb, NS, f"{PLUGIN}-default", SECRET)
    mesh = mesh_sandbox.up(sb)
    port = sb.registry.host.rsplit(":", 1)[1]
    vpc_host = f"localhost:{port}"
    stack = local_stack(sb, state_dir=tmp_path_factory.mktemp("cluster-host") / "pulumi")
    configure(stack, sb, extra={
        "pluginName": PLUGIN, "pullSecretName": SECRET, "repository": PLUGIN,
        "selector.istio": CANARY.labels["istio"],
        "clusterRegistryHosts.default": vpc_host,
        "istioClusterIds.default": CLUSTER_ID,
        "verify.timeoutSeconds": "60",
    })
    yield Hosted(sb, mesh, stack, vpc_host)
    stack.destroy(check=False)
    clean_namespace(sb, NS, f"{PLUGIN}-default", SECRET)


def test_the_cluster_pulls_the_pushed_digest_from_its_own_host(hosted: Hosted) -> None:
    hosted.stack.up()  # the gateway check inside it proves the gateway runs the build
    outputs = hosted.stack.outputs()
    ref = str(outputs["imageRef"])
    assert ref.startswith(hosted.sb.registry.host + "/")
    spec = hosted.sb.api.request("GET", WASM_PLUGINS.format(ns=NS, name=f"{PLUGIN}-default")).json()["spec"]
    assert spec["url"] == f"oci://{hosted.vpc_host}{ref[len(hosted.sb.registry.host):]}"
    assert spec["selector"]["matchLabels"] == {**CANARY.labels, "topology.istio.io/cluster": CLUSTER_ID}
    secret = hosted.sb.api.request("GET", SECRETS.format(ns=NS, name=SECRET)).json()
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert set(auths) == {hosted.sb.registry.host, hosted.vpc_host}
    assert ref.split("@sha256:")[1] in hosted.mesh.gateway(CANARY.name).running_digests()


def test_another_clusters_id_does_not_reach_this_clusters_gateways(hosted: Hosted) -> None:
    # The label is what keeps each cluster's WasmPlugin to its own gateways: with another id the
    # gateway drops the plugin, and the check says so.
    hosted.stack.set_config({"istioClusterIds.default": "another-cluster", "verify.timeoutSeconds": "10"})
    result = hosted.stack.up(check=False)
    output = (result.stdout + result.stderr).replace("\\n", "\n")
    assert result.returncode != 0
    assert "the plugin is not in this gateway's chain" in output, output[-3000:]
    hosted.stack.set_config({"istioClusterIds.default": CLUSTER_ID, "verify.timeoutSeconds": "60"})
    hosted.stack.up()
