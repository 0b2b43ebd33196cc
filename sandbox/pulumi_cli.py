"""Drives the real Pulumi CLI against a local file backend, reading its --json output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class PulumiError(RuntimeError):
    """A pulumi command failed; the message carries its output."""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str
    streamed: bool = False
    """True for `up`/`destroy --json`, which stream engine events; `preview --json` prints one document."""

    def json(self) -> Any:
        """The single JSON document that `preview --json` and `stack output --json` print."""
        return json.loads(self.stdout)

    def events(self) -> list[dict[str, Any]]:
        """The engine events that `up/destroy --json` stream, one JSON object per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def change_summary(self) -> dict[str, int]:
        """Resource changes by operation ({"create": 2, "same": 8}), for preview or update output."""
        if not self.streamed:
            return dict(self.json().get("changeSummary") or {})
        for event in reversed(self.events()):
            if "summaryEvent" in event:
                return dict(event["summaryEvent"].get("resourceChanges") or {})
        raise PulumiError(f"no summary in pulumi's output:\n{self.stdout[-2000:]}\n{self.stderr[-2000:]}")

    def steps(self) -> list[tuple[str, str, str]]:
        """(op, type, name) of each resource step that changed something, in the order the engine finished them."""
        found = []
        for event in self.events():
            meta = event.get("resOutputsEvent", {}).get("metadata")
            if meta and meta["op"] != "same":
                found.append((meta["op"], meta["type"], meta["urn"].rsplit("::", 1)[1]))
        return found

    def ops_by_type(self) -> dict[str, list[str]]:
        """The engine's step ops per resource type (update, create, same, …) of `up/destroy --json`."""
        ops: dict[str, list[str]] = {}
        for event in self.events():
            step = event.get("resOutputsEvent", {}).get("metadata")
            if step:
                ops.setdefault(step["type"], []).append(step["op"])
        return ops

    def diagnostics(self) -> str:
        """Every diagnostic message and policy violation, as text (for error assertions)."""
        text = [self.stderr]
        if not self.streamed:
            doc = self.json()
            text += [d.get("message", "") for d in doc.get("diagnostics") or []]
            text += [json.dumps(v) for v in doc.get("policyViolations", []) or []]
        else:
            for event in self.events():
                for key in ("diagnosticEvent", "policyEvent"):
                    if key in event:
                        text.append(json.dumps(event[key]))
        return "\n".join(text)


class LocalStack:
    """One stack of this project on a file backend, with its config file kept outside the repo.

    The committed Pulumi.<stack>.yaml is copied next to the state, and per-run values
    (sandbox endpoints, credentials, the pushed digest) are set in that copy.
    """

    def __init__(self, stack: str, state_dir: Path, passphrase: str, env: Mapping[str, str] | None = None,
                 project_dir: Path = REPO) -> None:
        self.stack = stack
        self.project_dir = project_dir
        self.state_dir = state_dir
        self.config_file = state_dir / f"Pulumi.{stack}.yaml"
        pulumi = shutil.which("pulumi", path=(env or os.environ).get("PATH"))
        if pulumi is None:
            raise PulumiError("pulumi is not on PATH: run `make tools` (scripts/bootstrap-tools.sh)")
        self.pulumi = pulumi
        self.env = {
            **os.environ,
            **(env or {}),
            "PULUMI_BACKEND_URL": f"file://{state_dir / 'backend'}",
            "PULUMI_CONFIG_PASSPHRASE": passphrase,
            "PULUMI_HOME": str(state_dir / "home"),
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "1",
            "NO_COLOR": "1",
        }
        self.env.pop("PULUMI_ACCESS_TOKEN", None)

    def run(self, *args: str, check: bool = True, timeout: float = 900, streamed: bool = False) -> Result:
        proc = subprocess.run(
            [self.pulumi, *args, "--non-interactive"],
            cwd=self.project_dir, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr, streamed)
        if check and proc.returncode != 0:
            raise PulumiError(f"pulumi {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return result

    def _stack_args(self) -> list[str]:
        return ["--stack", self.stack, "--config-file", str(self.config_file)]

    def ensure(self, committed_config: Path | None = None) -> None:
        """Creates the backend and stack (if needed) and refreshes the config copy."""
        (self.state_dir / "backend").mkdir(parents=True, exist_ok=True)
        template = (committed_config or self.project_dir / f"Pulumi.{self.stack}.yaml").read_text()
        salt = self._encryption_salt()
        listed = self.run("stack", "ls", "--json").json()
        if salt is None or not any(s["name"] == self.stack for s in listed):
            # `stack init` takes no --config-file: it appends the secrets salt to the repo's
            # Pulumi.<stack>.yaml. Keep the committed file as it was and the salt with the state.
            committed = self.project_dir / f"Pulumi.{self.stack}.yaml"
            before = committed.read_text() if committed.exists() else None
            if any(s["name"] == self.stack for s in listed):
                self.run("stack", "rm", "--yes", "--force", "--stack", self.stack)
            try:
                self.run("stack", "init", self.stack, "--secrets-provider", "passphrase")
                salt = _salt_in(committed.read_text())
            finally:
                if before is None:
                    committed.unlink(missing_ok=True)
                else:
                    committed.write_text(before)
            if salt is None:
                raise PulumiError(f"pulumi stack init wrote no encryptionsalt to {committed}")
        self.config_file.write_text(f"encryptionsalt: {salt}\n{template}")

    def _encryption_salt(self) -> str | None:
        return _salt_in(self.config_file.read_text()) if self.config_file.exists() else None

    def set_config(self, values: Mapping[str, str], secret: Sequence[str] = ()) -> None:
        for key, value in values.items():
            flags = ["--secret"] if key in secret else ["--plaintext"]
            if "." in key:  # pluginConfig.header: a field of a structured value
                flags.append("--path")
            self.run("config", "set", key, value, *flags, *self._stack_args())

    def preview(self, *extra: str, check: bool = True) -> Result:
        return self.run("preview", "--json", "--diff", *self._stack_args(), *extra, check=check)

    def preview_text(self, *extra: str, check: bool = True) -> Result:
        """Human-readable preview: policy violations appear only here, not in --json output."""
        return self.run("preview", "--diff", *self._stack_args(), *extra, check=check)

    def up(self, *extra: str, check: bool = True) -> Result:
        return self.run("up", "--yes", "--skip-preview", "--json", *self._stack_args(), *extra, check=check,
                        streamed=True)

    def destroy(self, check: bool = True) -> Result:
        return self.run("destroy", "--yes", "--skip-preview", "--json", *self._stack_args(), check=check,
                        streamed=True)

    def outputs(self) -> dict[str, Any]:
        return self.run("stack", "output", "--json", "--show-secrets", "--stack", self.stack).json()

    def resources(self) -> list[dict[str, Any]]:
        exported = self.run("stack", "export", "--stack", self.stack).json()
        return exported.get("deployment", {}).get("resources", []) or []


def _salt_in(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("encryptionsalt:"):
            return line.split(":", 1)[1].strip()
    return None
