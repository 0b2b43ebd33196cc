"""The program review (#11) through the real engine and providers, on the sandbox.

- a pluginConfig set with --secret is encrypted in the exported state and absent from the
  preview, the update's output and the stack outputs, while the WasmPlugin gets it;
- the prod-local stack (promoteFrom: local) previews no image build, with the policy pack;
- a stack made by the program before its children were renamed updates in place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.local_stack import REPO, SECRETS, WASM_PLUGINS, Sandbox, configure, local_stack
from sandbox.pulumi_cli import LocalStack
from tests.e2e.conftest import clean_namespace

NAMESPACE = "e2e-review"
PROD_NAMESPACE = "istio-prod"
REPOSITORY = "e2e-review"
SECRET_VALUE = "s3cr3t-e2e-plugin-value"
# The last program whose children were named `…-image-image` and `…-plugin-wasmplugin`.
PROGRAM_BEFORE_RENAME = "91baccf"
POLICY = ["--policy-pack", str(REPO / "policy")]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sb = Sandbox.running()
    for ns in (NAMESPACE, PROD_NAMESPACE):
        sb.api.ensure_namespace(ns)
        clean_namespace(sb, ns)
    yield sb
    for ns in (NAMESPACE, PROD_NAMESPACE):
        clean_namespace(sb, ns)


def build_config() -> dict[str, str]:
    # No gateway runs in this namespace: the gateway check is the mesh tests' (test_mesh.py).
    return {"pluginNamespace": NAMESPACE, "repository": REPOSITORY, "verify.enabled": "false"}


def test_a_secret_plugin_config_stays_secret_and_prod_builds_nothing(sb: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "pulumi"
    dev = local_stack(sb, state_dir=state)
    prod = local_stack(sb, state_dir=state, stack="prod-local")
    try:
        configure(dev, sb, extra=build_config())
        # As a user would: the header name in plain text, the value with --secret.
        dev.set_config({"pluginConfig.header": "x-token"})
        dev.set_config({"pluginConfig.value": SECRET_VALUE}, secret=("pluginConfig.value",))
        preview = dev.preview_text(*POLICY)
        assert SECRET_VALUE not in preview.stdout + preview.stderr
        assert "[secret]" in preview.stdout

        up = dev.up(*POLICY)
        assert SECRET_VALUE not in up.stdout + up.stderr
        exported = dev.run("stack", "export", "--stack", dev.stack).stdout
        assert SECRET_VALUE not in exported
        plugin_state = next(r for r in json.loads(exported)["deployment"]["resources"]
                            if r["type"] == "kubernetes:extensions.istio.io/v1alpha1:WasmPlugin")
        assert "ciphertext" in json.dumps(plugin_state["inputs"]["spec"])
        assert "ciphertext" in json.dumps(plugin_state["outputs"])
        assert SECRET_VALUE not in json.dumps(dev.run("stack", "output", "--json", "--stack", dev.stack).json())
        # Where Istio reads it, it is the plugin's configuration as given.
        live = sb.api.request("GET", WASM_PLUGINS.format(ns=NAMESPACE, name="header-authorization")).json()
        assert live["spec"]["pluginConfig"] == {"header": "x-token", "value": SECRET_VALUE}

        # prod-local deploys local's digest and plans no build, by its committed config alone.
        prod.ensure()
        prod.set_config({"registryUsername": sb.registry.username, "registryPassword": sb.registry.password,
                         "verify.enabled": "false"}, secret=("registryPassword",))
        planned = prod.preview_text(*POLICY)
        assert "docker:index:Image" not in planned.stdout and "docker:index/image:Image" not in planned.stdout
        assert "alicloud" not in planned.stdout
        prod.up(*POLICY)
        assert prod.outputs()["imageRef"] == dev.outputs()["imageRef"]
    finally:
        prod.destroy(check=False)
        dev.destroy(check=False)
        shutil.rmtree(state, ignore_errors=True)


def old_program(workdir: Path) -> Path:
    """The program as it was before the rename, from git, sharing this checkout's venv and plugin."""
    archive = workdir / "old.tar"
    proc = subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), PROGRAM_BEFORE_RENAME],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git archive {PROGRAM_BEFORE_RENAME} failed (this test needs the repository's "
                           f"history, as a plain `git clone` has): {proc.stderr.strip()}")
    project = workdir / "old-program"
    with tarfile.open(archive) as tar:
        tar.extractall(project, filter="data")
    (project / "venv").symlink_to(REPO / "venv")
    shutil.copy(REPO / "plugin" / "plugin.wasm", project / "plugin" / "plugin.wasm")
    return project


def uid(sb: Sandbox, path: str) -> str:
    return str(sb.api.request("GET", path).json()["metadata"]["uid"])


def test_renamed_children_update_a_stack_made_by_the_previous_program(sb: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "pulumi"
    new = local_stack(sb, state_dir=state)
    old = LocalStack("local", state, os.environ["PULUMI_CONFIG_PASSPHRASE"],
                     env={"KUBECONFIG": sb.kube_env["KUBECONFIG"], **sb.docker.client_env()},
                     project_dir=old_program(tmp_path))
    plugin_path = WASM_PLUGINS.format(ns=NAMESPACE, name="header-authorization")
    secret_path = SECRETS.format(ns=NAMESPACE, name="wasm-secret")
    try:
        configure(old, sb, extra=build_config())
        old.up()
        names = {r["urn"].rsplit("::", 1)[1] for r in old.resources()}
        assert {"header-authorization-image-image", "header-authorization-plugin-wasmplugin"} <= names
        before = (uid(sb, plugin_path), uid(sb, secret_path))

        configure(new, sb, extra=build_config())
        summary = new.up().change_summary()
        assert not {"create", "replace", "delete", "create-replacement", "delete-replaced"} & set(summary), summary
        names = {r["urn"].rsplit("::", 1)[1] for r in new.resources()}
        assert {"header-authorization-image", "header-authorization-plugin"} <= names
        assert not {"header-authorization-image-image", "header-authorization-plugin-wasmplugin"} & names
        assert (uid(sb, plugin_path), uid(sb, secret_path)) == before
        assert set(new.up().change_summary()) == {"same"}
    finally:
        new.destroy(check=False)
        shutil.rmtree(state, ignore_errors=True)
