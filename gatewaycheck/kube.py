"""Reaching gateways: through a cluster's API server (pods proxy subresource), or at a URL.

The machine running `pulumi up` needs no route to the gateways: the API server forwards the
probe (RBAC `pods/proxy` get). Uses the Kubernetes Python client for everything a kubeconfig
can say about authentication.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, config

from gatewaycheck.judge import Answer


class Unreachable(RuntimeError):
    """The API server, or the URL, did not deliver the probe to a gateway."""


@dataclass(frozen=True)
class Gateway:
    name: str
    """Pod name."""
    ready: bool


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """A client for the kubeconfig text, or for the ambient KUBECONFIG when None."""
    if kubeconfig:
        return config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    return config.new_client_from_config()


def gateways(api: client.ApiClient, namespace: str, selector: Mapping[str, str]) -> list[Gateway]:
    """The pods the WasmPlugin selects, running or not."""
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=label_selector)
    found = []
    for pod in pods.items:
        status = pod.status
        ready = bool(status and status.phase == "Running" and status.pod_ip)
        found.append(Gateway(pod.metadata.name, ready))
    return sorted(found, key=lambda g: g.name)


def _answer(status: int, body: bytes, headers: Mapping[str, Any]) -> Answer:
    return Answer(status, body, {str(k).lower(): str(v) for k, v in headers.items()})


def probe_pod(api: client.ApiClient, namespace: str, pod: str, port: int, path: str,
              headers: Mapping[str, str], timeout: float) -> Answer:
    """GET path on the pod's port through the API server; the gateway's answer as it gave it."""
    method, url, header_params, body, post_params = api.param_serialize(
        method="GET",
        resource_path="/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}",
        path_params={"namespace": namespace, "name": f"{pod}:{port}", "path": path.lstrip("/")},
        header_params=dict(headers),
        auth_settings=["BearerToken"],
    )
    try:
        response = api.call_api(method, url, header_params=header_params, body=body, post_params=post_params,
                                _request_timeout=timeout)
    except Exception as err:  # connection refused, TLS, timeout: the client's own errors vary
        raise Unreachable(f"the API server did not answer the probe of pod {pod}:{port} ({type(err).__name__}: "
                          "unreachable, or it dropped the connection)") from None
    answer = _answer(response.status, response.read() or b"", response.headers)
    # The API server's own refusals are Status objects; a gateway's answers are not.
    if answer.header("content-type") == "application/json" and b'"kind":"Status"' in answer.body.replace(b" ", b""):
        raise Unreachable(f"the API server did not forward the probe to pod {pod}:{port}: HTTP {answer.status} "
                          f"{answer.body[:300].decode('utf-8', 'replace')}")
    return answer


def probe_url(url: str, path: str, headers: Mapping[str, str], timeout: float) -> Answer:
    """GET url + path directly (a gateway address the user gave)."""
    request = urllib.request.Request(url.rstrip("/") + path, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as err:
        return _answer(err.code, err.read(), dict(err.headers))
    except (urllib.error.URLError, OSError) as err:
        raise Unreachable(f"{url} did not answer: {getattr(err, 'reason', err)}") from None


def describe(err: BaseException) -> str:
    """An API error in one line, without request details (headers may carry credentials)."""
    status = getattr(err, "status", None)
    reason = getattr(err, "reason", None)
    if status is not None:
        return f"HTTP {status} {reason or ''}".strip()
    return type(err).__name__
