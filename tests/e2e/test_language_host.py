"""Our Python language host (tools/pulumi/cmd/pulumi-language-python) under the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.local_stack import REPO
from sandbox.pulumi_cli import LocalStack

PROGRAM = '''
import pulumi
config = pulumi.Config()
if config.get("fail"):
    raise pulumi.RunError("failing on purpose: " + config.get("fail"))
pulumi.export("greeting", "hello " + (config.get("who") or "nobody"))
pulumi.export("token", config.get_secret("token"))
'''


def project(tmp_path: Path) -> LocalStack:
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: langhost-check\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / 'venv'}\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.t.yaml").write_text("config: {}\n")
    return LocalStack("t", tmp_path / "state", "langhost-test", project_dir=tmp_path,
                      env={"PATH": os.environ["PATH"]})


def test_a_program_without_config_runs(tmp_path: Path) -> None:
    stack = project(tmp_path)
    stack.ensure()
    stack.up()
    assert stack.outputs()["greeting"] == "hello nobody"


def test_config_and_secrets_reach_the_program(tmp_path: Path) -> None:
    stack = project(tmp_path)
    stack.ensure()
    stack.set_config({"who": "world", "token": "s3cret"}, secret=("token",))
    up = stack.up()
    assert stack.outputs() == {"greeting": "hello world", "token": "s3cret"}
    assert "s3cret" not in up.stdout  # secret outputs stay masked in the engine's events


def test_a_failing_program_fails_the_update_with_its_message(tmp_path: Path) -> None:
    stack = project(tmp_path)
    stack.ensure()
    stack.set_config({"fail": "bad value"})
    result = stack.up(check=False)
    assert result.returncode != 0
    assert "failing on purpose: bad value" in result.diagnostics()
