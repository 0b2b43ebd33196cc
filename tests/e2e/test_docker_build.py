"""The image pulumi-docker builds and pushes, all the way to the mesh gateway.

`pulumi up` of the local stack with no imageRef: its docker.Image builds plugin.wasm FROM
scratch through the sandbox's dockerd and pushes it to the TLS + htpasswd registry; the
WasmPlugin is pinned to the pushed digest; istiod hands it to the ingress gateway, whose
pilot-agent pulls that image with the pull Secret. The daemon's own image events say what
was built and pushed. The tests run in file order and share one stack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox import mesh as mesh_sandbox
from sandbox.docker import DockerApi
from sandbox.local_stack import REPO, Sandbox, configure, local_stack
from sandbox.mesh import Mesh, time_rollout
from sandbox.pulumi_cli import LocalStack, Result
from sandbox.registry import read_image
from tests.e2e.conftest import PLUGIN_V2_BODY, clean_namespace

# Names of our own, so that the demo's stack and test_mesh.py's are not touched.
PLUGIN = "e2e-docker-header-authorization"
SECRET = "e2e-docker-wasm-secret"
REPOSITORY = "test-oci/e2e-docker-header-authorization"
IMAGE_TYPE = "docker:index/image:Image"
PLUGIN_TYPE = "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin"
DENY_BODY = b"Forbidden by ASM Wasm Plugin"
ROLLOUT_TIMEOUT_S = 90.0


@dataclass
class DockerE2E:
    sb: Sandbox
    mesh: Mesh
    stack: LocalStack
    docker: DockerApi
    refs: list[str] = field(default_factory=list)
    """imageRef after each successful `up`, in order."""

    def up(self) -> tuple[Result, list[str]]:
        """`pulumi up`, and the image events of the daemon meanwhile ("push HOST/REPO:TAG", "tag …")."""
        since = self.docker.server_time()
        result = self.stack.up()
        time.sleep(1)  # the events API counts whole seconds
        events = self.docker.image_events(since, self.docker.server_time())
        self.refs.append(str(self.stack.outputs()["imageRef"]))
        return result, [f"{e['Action']} {e['Actor']['Attributes'].get('name', e['Actor']['ID'])}" for e in events]


@pytest.fixture(scope="module")
def docker_e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerE2E]:
    sb = Sandbox.running()
    sb.api.ensure_namespace(mesh_sandbox.NAMESPACE)
    clean_namespace(sb, mesh_sandbox.NAMESPACE, PLUGIN, SECRET)
    # Fresh: a gateway whose Wasm cache holds nothing from an earlier run, so every module is pulled.
    mesh = mesh_sandbox.up(sb, fresh=True)
    if others := mesh_sandbox.other_wasm_plugins(sb.api, PLUGIN):
        pytest.fail(f"WasmPlugins {others} in {mesh_sandbox.NAMESPACE} would act on the sandbox gateway too; "
                    f"delete them, or run on a fresh SANDBOX_DIR (now {sb.root})")
    workdir = tmp_path_factory.mktemp("docker-e2e")
    stack = local_stack(sb, state_dir=workdir / "pulumi")
    configure(stack, sb, extra={"pluginName": PLUGIN, "pullSecretName": SECRET,
                                "repository": REPOSITORY.split("/", 1)[1]})
    yield DockerE2E(sb, mesh, stack, DockerApi(sb.docker))
    destroyed = stack.destroy(check=False)
    if destroyed.returncode != 0:
        print(f"docker e2e teardown: pulumi destroy failed:\n{destroyed.stderr[-2000:]}")
    clean_namespace(sb, mesh_sandbox.NAMESPACE, PLUGIN, SECRET)


def pushes(docker_did: list[str]) -> list[str]:
    return [d.removeprefix("push ") for d in docker_did if d.startswith("push ")]


def digest_of(ref: str) -> str:
    return ref.split("@sha256:", 1)[1]


def test_first_up_builds_pushes_and_the_gateway_enforces_that_digest(docker_e2e: DockerE2E) -> None:
    d = docker_e2e
    results: list[tuple[Result, list[str]]] = []
    rollout = time_rollout(d.mesh, lambda: results.append(d.up()), lambda status, body: status == 403,
                           timeout=ROLLOUT_TIMEOUT_S)
    print(f"\nfirst up (build + push): pulumi up {rollout.applied_after:.1f}s, "
          f"gateway denies at {rollout.seen_after:.1f}s")
    result, docker_did = results[0]
    assert result.ops_by_type()[IMAGE_TYPE] == ["create"]
    ref = d.refs[-1]
    repository = d.sb.registry.ref(REPOSITORY)
    assert ref.startswith(f"{repository}@sha256:")
    assert pushes(docker_did) == [repository], docker_did
    plugin = d.sb.api.request("GET", f"/apis/extensions.istio.io/v1alpha1/namespaces/{mesh_sandbox.NAMESPACE}"
                                     f"/wasmplugins/{PLUGIN}").json()
    assert plugin["spec"]["url"] == f"oci://{ref}"

    assert d.mesh.get("/status/418") == (403, DENY_BODY)
    assert d.mesh.get("/status/418", {"allow": "true"})[0] == 418
    assert d.mesh.running_digests() == {digest_of(ref)}

    # What the gateway pulled: a FROM scratch image, plugin.wasm at its root and nothing else.
    image = read_image(d.sb.registry, REPOSITORY, "sha256:" + digest_of(ref))
    print(f"  image {ref}: config {image.manifest['config']['digest']}, layers "
          + ", ".join(f"{layer['digest']} ({layer['size']} B: {' '.join(files)})"
                      for layer, files in zip(image.manifest["layers"], image.layer_files(), strict=True)))
    assert image.layer_files() == [["plugin.wasm"]]
    assert image.file("plugin.wasm") == (REPO / "plugin" / "plugin.wasm").read_bytes()
    assert not (image.config.get("config") or {}).get("Entrypoint")
    wasm = (REPO / "plugin" / "plugin.wasm").read_bytes()
    cached = list((d.mesh.root / "varlib" / "istio" / "data").rglob("*.wasm"))
    assert any(p.read_bytes() == wasm for p in cached), cached


def test_second_up_builds_nothing_and_pushes_nothing(docker_e2e: DockerE2E) -> None:
    d = docker_e2e
    started = time.monotonic()
    result, docker_did = d.up()
    print(f"\nsecond up (nothing to build): pulumi up {time.monotonic() - started - 1:.1f}s")
    assert set(result.change_summary()) == {"same"}, result.change_summary()
    assert docker_did == [], docker_did
    assert d.refs[-1] == d.refs[-2]


def flip_to(d: DockerE2E, wasm: Path, deny_body: bytes,
            results: list[tuple[Result, list[str]]] | None = None) -> tuple[list[str], float]:
    """Deploys another build, runs `up` while polling the gateway: the daemon's events, the rollout's seconds.

    The deny body is set in pluginConfig too: the stack's gateway check expects the configured
    one, and each build here has its own default.
    """
    d.stack.set_config({"wasmFile": str(wasm), "pluginConfig.denyBody": deny_body.decode()})
    results = [] if results is None else results
    rollout = time_rollout(d.mesh, lambda: results.append(d.up()), lambda status, body: body == deny_body,
                           timeout=ROLLOUT_TIMEOUT_S)
    return results[0][1], rollout.seen_after


def test_changed_source_is_one_build_one_digest_one_update_at_the_gateway(docker_e2e: DockerE2E,
                                                                        plugin_v2: Path) -> None:
    d = docker_e2e
    pids = d.mesh.gateway_pids()
    results: list[tuple[Result, list[str]]] = []
    docker_did, seconds = flip_to(d, plugin_v2, PLUGIN_V2_BODY.encode(), results)
    print(f"\nchanged source (rebuild + push): pulumi up and the gateway check, new build at the gateway "
          f"after {seconds:.1f}s")
    result = results[0][0]
    ops = result.ops_by_type()
    assert ops[IMAGE_TYPE] == ["update"] and ops[PLUGIN_TYPE] == ["update"], ops
    assert pushes(docker_did) == [d.sb.registry.ref(REPOSITORY)], docker_did
    assert d.refs[-1] != d.refs[-2]
    assert d.mesh.running_digests() == {digest_of(d.refs[-1])}
    assert d.mesh.gateway_pids() == pids, "pilot-agent or its Envoy restarted"


def test_the_same_module_again_gives_the_same_digest_on_a_warm_daemon(docker_e2e: DockerE2E) -> None:
    # Back to the first build's bytes: the classic builder's cache gives the image it built
    # before, so the digest is the first one, and the gateway runs a module it already had.
    d = docker_e2e
    docker_did, seconds = flip_to(d, REPO / "plugin" / "plugin.wasm", DENY_BODY)
    print(f"\nback to the first module, warm daemon: same digest, at the gateway after {seconds:.1f}s")
    assert d.refs[-1] == d.refs[0], (d.refs, docker_did)
    assert d.mesh.running_digests() == {digest_of(d.refs[0])}


def test_a_cold_daemon_gives_the_same_module_a_new_digest(docker_e2e: DockerE2E, plugin_v2: Path) -> None:
    # The classic builder stamps the build time into the image config ("created"), and this
    # daemon's BuildKit (Debian's 20.10) ignores SOURCE_DATE_EPOCH: without its cache (a fresh
    # CI runner) the same bytes give a new config, so a new digest, and the gateway pulls a
    # module it already has. This pins that behaviour (docs/docker-build.md has the figures).
    d = docker_e2e
    first = read_image(d.sb.registry, REPOSITORY, "sha256:" + digest_of(d.refs[0]))
    flip_to(d, plugin_v2, PLUGIN_V2_BODY.encode())
    assert d.refs[-1] == d.refs[2], "v2 again on a warm daemon: v2's digest"
    d.docker.remove_image(first.manifest["config"]["digest"])
    docker_did, seconds = flip_to(d, REPO / "plugin" / "plugin.wasm", DENY_BODY)
    print(f"\nthe first module rebuilt on a cold daemon: new digest, at the gateway after {seconds:.1f}s")
    assert pushes(docker_did) == [d.sb.registry.ref(REPOSITORY)], docker_did
    assert d.refs[-1] != d.refs[0]
    again = read_image(d.sb.registry, REPOSITORY, "sha256:" + digest_of(d.refs[-1]))
    # The module is the same; the config's `created` is not, and the layer's tar keeps the file's
    # mtime, so a rebuilt plugin.wasm (a fresh checkout, `make plugin`) gives a new layer too.
    assert again.file("plugin.wasm") == first.file("plugin.wasm")
    assert again.config["created"] != first.config["created"]
    same_layer = again.config["rootfs"]["diff_ids"] == first.config["rootfs"]["diff_ids"]
    print(f"  created {first.config['created']} -> {again.config['created']}; layer "
          f"{'the same' if same_layer else 'new (plugin.wasm has another mtime)'}")
    assert d.mesh.running_digests() == {digest_of(d.refs[-1])}
