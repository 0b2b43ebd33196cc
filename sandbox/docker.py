"""The sandbox's Docker daemon (scripts/docker-up.sh), read through its Engine API.

pulumi-docker's `docker.Image` builds and pushes through this daemon; the tests ask the
daemon what it did (its image events: tag, push) rather than trusting the engine's
summary alone. Standard library only: HTTP over the daemon's unix socket.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.envfile import read_env_file


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


@dataclass(frozen=True)
class DockerEnv:
    """What docker-up.sh wrote to $SANDBOX_DIR/docker/env: the values pulumi's env needs."""

    host: str
    """unix:///…/docker.sock"""
    config: Path
    """DOCKER_CONFIG: where a login would land, instead of ~/.docker"""

    @classmethod
    def read(cls, path: Path) -> DockerEnv:
        values = read_env_file(path)
        try:
            return cls(values["DOCKER_HOST"], Path(values["DOCKER_CONFIG"]))
        except KeyError as e:
            raise ValueError(f"{path}: missing {e.args[0]}") from None

    def client_env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config)}

    @property
    def socket(self) -> str:
        if not self.host.startswith("unix://"):
            raise ValueError(f"DOCKER_HOST {self.host!r} is not a unix socket")
        return self.host.removeprefix("unix://")


class DockerApi:
    def __init__(self, env: DockerEnv, timeout: float = 30.0) -> None:
        self.env = env
        self.timeout = timeout

    def request(self, method: str, path: str, query: Mapping[str, str] | None = None) -> Any:
        conn = _UnixConnection(self.env.socket, self.timeout)
        try:
            url = path + ("?" + urllib.parse.urlencode(query) if query else "")
            conn.request(method, url)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"docker {method} {path}: HTTP {resp.status}: {body[:500]!r}")
        return json.loads(body) if body.strip() else None

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, query)

    def server_time(self) -> int:
        """The daemon's clock in seconds, for `since` of events()."""
        return _unix(str(self.get("/info")["SystemTime"]))

    def image_events(self, since: int, until: int) -> list[dict[str, Any]]:
        """The daemon's image events (pull, push, tag, delete, …) in [since, until] (unix seconds)."""
        conn = _UnixConnection(self.env.socket, self.timeout)
        try:
            query = urllib.parse.urlencode({"since": str(since), "until": str(until),
                                            "filters": json.dumps({"type": ["image"]})})
            conn.request("GET", f"/events?{query}")
            resp = conn.getresponse()
            body = resp.read().decode()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"docker GET /events: HTTP {resp.status}: {body[:500]}")
        # A stream of JSON objects, one after the other.
        decoder = json.JSONDecoder()
        events: list[dict[str, Any]] = []
        pos = 0
        while (pos := _skip_space(body, pos)) < len(body):
            event, pos = decoder.raw_decode(body, pos)
            events.append(event)
        return events

    def image(self, ref: str) -> dict[str, Any]:
        return dict(self.get(f"/images/{urllib.parse.quote(ref, safe='')}/json"))

    def images(self, reference: str) -> list[dict[str, Any]]:
        """Local images whose name matches reference (e.g. HOST/REPO, every tag)."""
        return list(self.get("/images/json", {"filters": json.dumps({"reference": [reference]})}))

    def remove_image(self, image_id: str) -> None:
        """Removes an image with all its tags (and so the classic builder's cache of it)."""
        self.request("DELETE", f"/images/{urllib.parse.quote(image_id, safe='')}", {"force": "1"})


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _unix(timestamp: str) -> int:
    # RFC 3339 in UTC with nanoseconds, which datetime does not parse: cut to seconds.
    return int(datetime.fromisoformat(timestamp[:19] + "+00:00").timestamp())
