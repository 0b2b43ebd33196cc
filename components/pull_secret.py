"""The image pull Secret, in every data-plane cluster where a gateway pulls the plugin."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s


def docker_config_json(servers: Collection[str], username: str, password: str) -> str:
    """The .dockerconfigjson that `kubectl create secret docker-registry` writes, with one entry per
    registry host the plugins' images come from (one login for them all)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {s: {"username": username, "password": password, "auth": auth}
                                 for s in sorted(set(servers))}},
                      sort_keys=True)


class PullSecretArgs(TypedDict):
    name: str
    """Secret name, e.g. wasm-secret; the WasmPlugin's imagePullSecret."""
    namespace: str
    """The WasmPlugin's namespace: Istio reads the Secret from there."""
    servers: pulumi.Input[list[str]]
    """Registry hosts the credentials are for: those of every image's url."""
    username: pulumi.Input[str]
    """Registry user."""
    password: pulumi.Input[str]
    """Registry password (kept secret)."""
    clusters: dict[str, k8s.Provider]
    """Data-plane cluster name -> provider; one Secret per cluster."""
    cluster_servers: NotRequired[Mapping[str, str]]
    """A further registry host per cluster (its VPC endpoint), whose gateways pull from it."""


class PullSecret(pulumi.ComponentResource):
    secret_name: pulumi.Output[str]
    """Name of the Secret (the same in every cluster)."""
    clusters: pulumi.Output[list[str]]
    """Clusters that hold the Secret."""

    def __init__(self, name: str, args: PullSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("asmwasm:index:PullSecret", name, None, opts)

        def config_json(extra: str | None) -> pulumi.Output[str]:
            return pulumi.Output.secret(
                pulumi.Output.all(args["servers"], args["username"], args["password"]).apply(
                    lambda a: docker_config_json([*a[0], *([extra] if extra else [])], a[1], a[2])
                )
            )

        for cluster, provider in sorted(args["clusters"].items()):
            k8s.core.v1.Secret(
                f"{name}-{cluster}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=args["name"],
                    namespace=args["namespace"],
                    labels={"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": name},
                ),
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": config_json(args.get("cluster_servers", {}).get(cluster))},
                opts=pulumi.ResourceOptions(parent=self, provider=provider,
                                            additional_secret_outputs=["data", "stringData"]),
            )
        self.secret_name = pulumi.Output.from_input(args["name"])
        self.clusters = pulumi.Output.from_input(sorted(args["clusters"]))
        self.register_outputs({"secret_name": self.secret_name, "clusters": self.clusters})

