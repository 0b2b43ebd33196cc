"""The guardrails run wherever a stack is previewed or updated, and the docs name every module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.preview import preview_argv

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def pulumi_steps(workflow: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(workflow.read_text())
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])
            if str(step.get("uses", "")).startswith("pulumi/actions@") and (step.get("with") or {}).get("command")]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_preview_and_update_in_ci_runs_the_policy_pack(workflow: Path) -> None:
    steps = pulumi_steps(workflow)
    assert steps, f"{workflow.name} runs no pulumi preview or up"
    for step in steps:
        assert step["with"]["command"] in ("preview", "up")
        assert step["with"].get("policyPacks") == "policy", f"{workflow.name}: {step['with']}"
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()


def test_make_preview_runs_the_policy_pack(tmp_path: Path) -> None:
    argv = preview_argv("local", tmp_path / "Pulumi.local.yaml")
    assert argv[argv.index("--policy-pack") + 1] == str(ROOT / "policy")


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    for folder in ("components", "stackconfig"):
        for module in sorted((ROOT / folder).glob("*.py")):
            if module.name != "__init__.py":
                assert module.name in readme, f"README's layout table misses {folder}/{module.name}"
