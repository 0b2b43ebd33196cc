#!/usr/bin/env python3
"""A minimal Kubernetes REST client for the local sandbox (standard library only).

Used by scripts/kube-up.sh, so the sandbox needs no kubectl, and by the tests
(sandbox/kube.py). It authenticates with the sandbox's client
certificate and trusts only the sandbox CA.

Connection settings come from the environment (the names written to
$SANDBOX_DIR/kube/env): KUBE_API, KUBE_CA, KUBE_CLIENT_CERT, KUBE_CLIENT_KEY.

    kube_api.py wait-ready [--timeout S] [--pid PID]
    kube_api.py ensure-namespace NAME
    kube_api.py apply-crd FILE.json [--timeout S]   # server-side apply, then wait for Established
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIELD_MANAGER = "asm-wasm-sandbox"
CONNECTION_KEYS = ("KUBE_API", "KUBE_CA", "KUBE_CLIENT_CERT", "KUBE_CLIENT_KEY")


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


class KubeApiError(RuntimeError):
    """A request failed or a condition was not reached."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        """The Status message of an error response, else the raw body."""
        try:
            doc = self.json()
        except ValueError:
            return self.body.decode(errors="replace")
        if isinstance(doc, dict) and "message" in doc:
            return str(doc["message"])
        return self.body.decode(errors="replace")


class KubeApi:
    """Talks to one API server over TLS with a client certificate."""

    def __init__(self, server: str, ca: str, cert: str, key: str) -> None:
        self.server = server.rstrip("/")
        self._tls = ssl.create_default_context(cafile=ca)
        self._tls.load_cert_chain(certfile=cert, keyfile=key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> KubeApi:
        missing = [k for k in CONNECTION_KEYS if not env.get(k)]
        if missing:
            raise KubeApiError(
                f"missing {', '.join(missing)} in the environment; "
                "source $SANDBOX_DIR/kube/env (written by scripts/kube-up.sh)"
            )
        return cls(env["KUBE_API"], env["KUBE_CA"], env["KUBE_CLIENT_CERT"], env["KUBE_CLIENT_KEY"])

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> Response:
        """Send one request; HTTP error statuses are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._tls, timeout=timeout) as resp:
                return Response(resp.status, resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read())

    def wait_ready(self, timeout: float, pid: int | None = None) -> None:
        """Wait until /readyz answers 200; on timeout, report the failing checks.

        With pid, give up as soon as that process (the API server) has exited.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if pid is not None and not _alive(pid):
                raise KubeApiError(f"the API server process {pid} exited before {self.server}/readyz was ok")
            try:
                resp = self.request("GET", "/readyz?verbose", timeout=5)
                if resp.status == 200:
                    return
                failing = [ln for ln in resp.body.decode(errors="replace").splitlines() if "[-]" in ln]
                last = f"HTTP {resp.status}: " + ("; ".join(failing) or resp.message)
            except (OSError, urllib.error.URLError) as err:
                last = str(err)
            time.sleep(0.2)
        raise KubeApiError(f"{self.server}/readyz not ok after {timeout:.0f}s: {last}")

    def ensure_namespace(self, name: str) -> bool:
        """Create a namespace; returns False when it already existed."""
        resp = self.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        if resp.status == 201:
            return True
        if resp.status == 409:
            return False
        raise KubeApiError(f"creating namespace {name}: HTTP {resp.status}: {resp.message}")

    def apply(self, path: str, manifest: Mapping[str, Any]) -> Any:
        """Server-side apply of one object at its REST path (create or update)."""
        resp = self.request(
            "PATCH",
            f"{path}?fieldManager={FIELD_MANAGER}&force=true",
            manifest,
            content_type="application/apply-patch+yaml",  # JSON is YAML
        )
        if resp.status not in (200, 201):
            raise KubeApiError(f"applying {path}: HTTP {resp.status}: {resp.message}")
        return resp.json()

    def apply_crd(self, crd: Mapping[str, Any], timeout: float) -> None:
        """Apply a CustomResourceDefinition and wait until it is Established."""
        self.submit_crd(crd)
        self.wait_established(crd["metadata"]["name"], timeout)

    def submit_crd(self, crd: Mapping[str, Any]) -> None:
        """Apply a CustomResourceDefinition without waiting (see wait_established)."""
        if crd.get("kind") != "CustomResourceDefinition":
            raise KubeApiError(f"expected kind CustomResourceDefinition, got {crd.get('kind')!r}")
        self.apply(f"{CRDS}/{crd['metadata']['name']}", crd)

    def wait_established(self, name: str, timeout: float) -> None:
        """Wait until the CustomResourceDefinition called name is Established."""
        path = f"{CRDS}/{name}"
        deadline = time.monotonic() + timeout
        conditions: dict[str, Any] = {}
        while time.monotonic() < deadline:
            resp = self.request("GET", path)
            if resp.status == 200:
                status = resp.json().get("status") or {}
                conditions = {c["type"]: c for c in status.get("conditions") or []}
                if conditions.get("Established", {}).get("status") == "True":
                    return
                rejected = conditions.get("NamesAccepted", {})
                if rejected.get("status") == "False":
                    raise KubeApiError(f"CRD {name}: names not accepted: {rejected.get('message')}")
            time.sleep(0.2)
        summary = {t: (c.get("status"), c.get("message")) for t, c in conditions.items()}
        raise KubeApiError(f"CRD {name} not Established after {timeout:.0f}s; conditions: {summary}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers signal 0.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ready = sub.add_parser("wait-ready", help="wait until /readyz is ok")
    ready.add_argument("--timeout", type=float, default=120.0)
    ready.add_argument("--pid", type=int, help="stop waiting when this process exits")
    ns = sub.add_parser("ensure-namespace", help="create a namespace unless it exists")
    ns.add_argument("name")
    crd = sub.add_parser("apply-crd", help="apply a CRD (JSON file) and wait until it is Established")
    crd.add_argument("file", type=Path)
    crd.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    try:
        api = KubeApi.from_env()
        if args.command == "wait-ready":
            api.wait_ready(args.timeout, args.pid)
        elif args.command == "ensure-namespace":
            created = api.ensure_namespace(args.name)
            print(f"namespace {args.name} {'created' if created else 'already exists'}", file=sys.stderr)
        elif args.command == "apply-crd":
            manifest = json.loads(args.file.read_text())
            api.apply_crd(manifest, args.timeout)
            print(f"CRD {manifest['metadata']['name']} established", file=sys.stderr)
    except (KubeApiError, OSError, ValueError, KeyError) as err:
        print(f"kube_api: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
