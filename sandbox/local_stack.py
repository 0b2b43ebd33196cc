"""The local stack end to end: `pulumi up` (pulumi-docker builds and pushes the plugin image through
the sandbox's Docker daemon), then check what the guide's step 5 checks.

Shared by `make demo` (sandbox/demo.py) and the e2e tests, so both exercise the
same path a user runs. ocitool stays for what it does better than a Docker daemon:
pulling a WasmPlugin's url the way Istio's agent does (pull_like_istio), and pushing an
image byte for byte in a given format (push_plugin: prebuilt images for promotion tests).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import registry
from sandbox.docker import DockerEnv
from sandbox.envfile import read_env_file, sandbox_dir
from sandbox.envoy import Envoy, Response, run_envoy, run_httpbin
from sandbox.kube_api import KubeApi
from sandbox.pulumi_cli import LocalStack

REPO = Path(__file__).resolve().parents[1]
PLUGIN_NAMESPACE = "istio-system"
WASM_PLUGINS = "/apis/extensions.istio.io/v1alpha1/namespaces/{ns}/wasmplugins/{name}"
SECRETS = "/api/v1/namespaces/{ns}/secrets/{name}"


@dataclass(frozen=True)
class Sandbox:
    """Handles on the running sandbox services (scripts/sandbox-up.sh)."""

    root: Path
    registry: registry.RegistryEnv
    kube_env: dict[str, str]
    ocitool: Path
    docker: DockerEnv

    @classmethod
    def running(cls, root: Path | None = None) -> Sandbox:
        root = root or sandbox_dir()
        envs = [root / "registry" / "env", root / "kube" / "env", root / "docker" / "env"]
        missing = [p for p in envs if not p.is_file()]
        if missing:
            raise RuntimeError(f"the sandbox is not up ({', '.join(map(str, missing))} missing): "
                               "run scripts/sandbox-up.sh")
        ocitool = Path(os.environ["OCITOOL"]) if os.environ.get("OCITOOL") else registry.build_ocitool()
        return cls(root, registry.read_env(envs[0]), read_env_file(envs[1]), ocitool, DockerEnv.read(envs[2]))

    @property
    def api(self) -> KubeApi:
        return KubeApi.from_env(self.kube_env)


@dataclass(frozen=True)
class Pushed:
    ref: str
    """HOST/REPO@sha256:..."""
    uploaded_blobs: list[str]
    manifest_put: bool


def push_plugin(sb: Sandbox, wasm: Path, tag: str = "v0.0.1", repository: str = "test-oci/header-authorization",
                *, image_format: str = "docker", password: str | None = None) -> Pushed:
    """Pushes plugin.wasm as the guide's FROM-scratch image; same bytes, same digest.

    image_format "oci" gives the same module another digest; password overrides the sandbox's.
    """
    proc = subprocess.run(
        [str(sb.ocitool), "push", "--wasm", str(wasm), "--format", image_format,
         "--ref", sb.registry.ref(f"{repository}:{tag}"), "--ca", str(sb.registry.ca),
         "--username", sb.registry.username, "--password-stdin", "--json"],
        input=sb.registry.password if password is None else password, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ocitool push failed: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    return Pushed(out["ref"], out.get("uploaded_blobs") or [], bool(out.get("manifest_put")))


def build_plugin_variant(workdir: Path, deny_body: str, plugin_dir: Path = REPO / "plugin") -> Path:
    """plugin_dir built from a copy whose default deny body is deny_body: a "new build" to roll out."""
    source = workdir / "plugin-source"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(plugin_dir, source, ignore=shutil.ignore_patterns("plugin.wasm"))
    config_go = source / "internal" / "headerauth" / "config.go"
    original = config_go.read_text()
    changed = original.replace('"Forbidden by ASM Wasm Plugin"', json.dumps(deny_body))
    if changed == original:
        raise RuntimeError(f"{config_go}: the default deny body literal is gone; update build_plugin_variant")
    config_go.write_text(changed)
    subprocess.run([str(source / "build.sh"), "."], check=True)
    return source / "plugin.wasm"


def local_stack(sb: Sandbox, state_dir: Path | None = None, stack: str = "local") -> LocalStack:
    """The `local` stack on a file backend in the sandbox, with the sandbox's kubeconfig and Docker daemon."""
    passphrase = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    if not passphrase:
        raise RuntimeError("PULUMI_CONFIG_PASSPHRASE is not set (the Makefile sets one for the sandbox)")
    return LocalStack(stack, state_dir or sb.root / "pulumi", passphrase,
                      env={"KUBECONFIG": sb.kube_env["KUBECONFIG"], **sb.docker.client_env()})


def configure(stack: LocalStack, sb: Sandbox, image_ref: str | None = None,
              extra: Mapping[str, str] | None = None) -> None:
    """Points the stack at the sandbox's registry: where it is and its credentials, nothing else.

    So `pulumi up` builds plugin/plugin.wasm into an image and pushes it there, as the dev
    stack does on ACR. image_ref (a digest already pushed) is for the stacks that build
    nothing: promotion and the prebuilt-image tests.
    """
    stack.ensure()
    stack.set_config({
        "registryEndpoint": sb.registry.host,
        "registryUsername": sb.registry.username,
        "registryPassword": sb.registry.password,
        **({"imageRef": image_ref} if image_ref else {}),
        **(extra or {}),
    }, secret=("registryPassword",))


@dataclass(frozen=True)
class Applied:
    """What the API server holds after `pulumi up`, read back from it."""

    wasm_plugin: dict[str, Any]
    dockerconfigjson: str


def read_back(sb: Sandbox, name: str = "header-authorization", secret: str = "wasm-secret",
              namespace: str = PLUGIN_NAMESPACE) -> Applied:
    api = sb.api
    plugin = api.request("GET", WASM_PLUGINS.format(ns=namespace, name=name))
    if plugin.status != 200:
        raise RuntimeError(f"WasmPlugin {namespace}/{name}: HTTP {plugin.status}: {plugin.message}")
    sec = api.request("GET", SECRETS.format(ns=namespace, name=secret))
    if sec.status != 200:
        raise RuntimeError(f"Secret {namespace}/{secret}: HTTP {sec.status}: {sec.message}")
    doc = sec.json()
    if doc.get("type") != "kubernetes.io/dockerconfigjson":
        raise RuntimeError(f"Secret {namespace}/{secret} has type {doc.get('type')!r}, "
                           "not kubernetes.io/dockerconfigjson")
    config = base64.b64decode(doc["data"][".dockerconfigjson"]).decode()
    return Applied(plugin.json(), config)


def pull_like_istio(sb: Sandbox, applied: Applied, out: Path) -> dict[str, Any]:
    """Pulls the WasmPlugin's url with the Secret's credentials and checks the digest (ocitool pull)."""
    url = applied.wasm_plugin["spec"]["url"]
    proc = subprocess.run(
        [str(sb.ocitool), "pull", "--url", url, "--dockerconfigjson", "-", "--ca", str(sb.registry.ca),
         "--out", str(out), "--json"],
        input=applied.dockerconfigjson, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pulling {url} as Istio would failed: {proc.stderr.strip()}")
    return dict(json.loads(proc.stdout))


@dataclass(frozen=True)
class Step5:
    without_header: Response
    with_header: Response
    debug_line: str


@contextmanager
def gateway(applied: Applied, wasm: Path, workdir: Path) -> Iterator[Envoy]:
    """A real Envoy loading the pulled module with the WasmPlugin's pluginConfig, in front of httpbin."""
    workdir.mkdir(parents=True, exist_ok=True)
    plugin_config = applied.wasm_plugin["spec"].get("pluginConfig")
    with ExitStack() as stack:
        httpbin = stack.enter_context(run_httpbin(workdir))
        envoy = stack.enter_context(run_envoy(
            workdir, httpbin.port, json.dumps(plugin_config) if plugin_config else "",
            delivery="ecds", wasm_path=wasm))
        yield envoy


def step5(envoy: Envoy) -> Step5:
    """The guide's step 5: curl /status/418 without and with `allow: true`."""
    denied = envoy.get("/status/418")
    allowed = envoy.get("/status/418", [("allow", "true")])
    match = envoy.process.wait_for_log(r"request header: 'allow' is [^\n]*, only true can passthrough")
    return Step5(denied, allowed, match.group(0))
