"""Probe every gateway of one cluster until each passes or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gatewaycheck import kube
from gatewaycheck.judge import Answer, Expected, judge

POLL_S = 0.2


@dataclass(frozen=True)
class Target:
    cluster: str
    namespace: str
    selector: Mapping[str, str]
    port: int
    """The gateway pods' HTTP port (8080 in Istio's ingress gateway)."""
    url: str | None = None
    """Probe this URL instead of the pods (one gateway, or a load balancer in front of them)."""


class CheckFailed(RuntimeError):
    """A gateway does not run the build or does not answer as expected; the message says which and why."""


Prober = Callable[[str, Mapping[str, str]], Answer]


def _probes(target: Target, kubeconfig: str | None, timeout: float) -> Callable[[], dict[str, Prober]]:
    """The gateways to probe now, each as a function of (path, headers)."""
    if target.url:
        url = target.url
        return lambda: {url: lambda path, headers: kube.probe_url(url, path, headers, timeout)}
    api = kube.api_client(kubeconfig)

    def current() -> dict[str, Prober]:
        found = kube.gateways(api, target.namespace, target.selector)
        return {
            f"pod {target.namespace}/{g.name}": (
                lambda path, headers, pod=g.name: kube.probe_pod(api, target.namespace, pod, target.port, path,
                                                                 headers, timeout))
            for g in found if g.ready
        }

    return current


def target_from(props: Mapping[str, object]) -> Target:
    """A Target from engine properties, where every number arrives as a float (8080.0 in a pod
    proxy path makes kube-apiserver 1.36 drop the connection)."""
    return Target(cluster=str(props["cluster"]), namespace=str(props["namespace"]),
                  selector={str(k): str(v) for k, v in dict(props["selector"]).items()},  # type: ignore[call-overload]
                  port=int(props["port"]), url=str(props["url"]) if props.get("url") else None)


def check(target: Target, expected: Expected, kubeconfig: str | None, timeout_s: float,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Lines saying what passed; raises CheckFailed with what each failing gateway did after timeout_s."""
    deadline = clock() + timeout_s
    current = _probes(target, kubeconfig, min(5.0, timeout_s))
    selector = ",".join(f"{k}={v}" for k, v in sorted(target.selector.items()))
    where = f"cluster {target.cluster!r}"
    while True:
        failures: dict[str, list[str]] = {}
        passed: list[str] = []
        try:
            gateways = current()
        except Exception as err:  # any failure to list is reported with the cluster name
            gateways, failures = {}, {"gateways": [f"could not list them: {kube.describe(err)}"]}
        if not gateways and not failures:
            failures["gateways"] = [f"no running pod in namespace {target.namespace!r} matches {selector}"]
        for name, probe in gateways.items():
            try:
                denied = probe(expected.path, {})
                allowed = None if expected.value is None else probe(expected.path, {expected.header: expected.value})
            except kube.Unreachable as err:
                failures[name] = [str(err)]
                continue
            problems = judge(expected, denied, allowed)
            if problems:
                failures[name] = problems
            else:
                with_header = "not probed (the value is the gateway's own)" if allowed is None else allowed.status
                passed.append(f"{where}: {name} runs {expected.build[:19]}… and answers "
                              f"{denied.status} without the header, {with_header} with it")
        if not failures:
            return passed
        if clock() >= deadline:
            lines = [f"{where}: gateway check failed after {timeout_s:g}s ({selector}):"]
            for name, problems in failures.items():
                lines += [f"  {name}: {p}" for p in problems]
            raise CheckFailed("\n".join(lines))
        sleep(POLL_S)
