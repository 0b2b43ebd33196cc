"""What a gateway's two answers say: the plugin build runs and behaves, or what is wrong and why.

Pure: no I/O. The probe without the header must get the plugin's configured deny reply, stamped
with the build it was configured with (the plugin's `x-wasm-plugin-build` reply header, set from
pluginConfig.build); the probe with the header must reach the upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BUILD_HEADER = "x-wasm-plugin-build"
# Istio's agent swaps in a deny-all RBAC filter when it cannot fetch or load the module and the
# WasmPlugin fails closed (istio pkg/wasm/convert.go); Envoy's RBAC filter answers this body.
RBAC_DENIED = b"RBAC: access denied"


@dataclass(frozen=True)
class Expected:
    path: str
    """Request path of both probes, e.g. /status/418."""
    header: str
    """The header that lets a request through (not printed with its value: it may be a key)."""
    value: str | None
    """None: the value is the gateways' own (vmEnv valueFrom HOST), so only the denied probe is sent."""
    denied_status: int
    denied_body: bytes
    denied_content_type: str
    allowed_status: int
    """What the upstream answers the allowed probe, e.g. 418 from httpbin's /status/418."""
    build: str
    """The build the plugin was configured with: the image digest just applied."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]
    """Lower-cased names."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _shown(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text + ("…" if len(body) > limit else ""))


def judge(expected: Expected, denied: Answer, allowed: Answer | None) -> list[str]:
    """Problems found, each 'expected …, saw …' with the likely cause; empty when the gateway passes."""
    problems: list[str] = []
    build = denied.header(BUILD_HEADER)
    if denied.status == 403 and denied.body.startswith(RBAC_DENIED):
        problems.append(
            f"without the header: expected {expected.denied_status} {_shown(expected.denied_body)}, saw 403 "
            f"{_shown(denied.body)}: Istio's deny-all stand-in, so the Wasm module did not load (the agent "
            "could not pull or verify the image: look for 'error in converting the wasm config' and the pull "
            "error in the gateway's istio-agent log; a wrong pull Secret is the usual cause)")
    elif (allowed is not None and denied.status == allowed.status and build is None
          and denied.status != expected.denied_status):
        problems.append(
            f"without the header: expected {expected.denied_status}, saw {denied.status} from the upstream: the "
            "plugin is not in this gateway's chain (istiod has not pushed the WasmPlugin yet, or its selector "
            "does not match this gateway)")
    else:
        if build is not None and build != expected.build:
            problems.append(f"runs build {build}, expected {expected.build}: the previous build still runs "
                            "(istiod has not pushed the new WasmPlugin yet, or the agent is still pulling it)")
        elif build is None:
            problems.append(f"the deny reply has no {BUILD_HEADER} header: the module that answers is not a "
                            f"build configured with {expected.build} (an older plugin, or another filter denied)")
        content_type = denied.header("content-type") or ""
        seen = (denied.status, denied.body, content_type)
        want = (expected.denied_status, expected.denied_body, expected.denied_content_type)
        if seen != want:
            problems.append(
                f"without the header: expected {want[0]} {_shown(want[1])} ({want[2]}), saw {seen[0]} "
                f"{_shown(seen[1])} ({seen[2] or 'no content type'})")
    if allowed is None:  # only the denied probe: it alone shows the build
        return problems
    if allowed.status != expected.allowed_status:
        why = ""
        if allowed.status == expected.denied_status and allowed.body == expected.denied_body:
            why = f": the plugin denied it, so it does not accept header '{expected.header}' with the probe's value"
        elif allowed.body.startswith(RBAC_DENIED):
            why = ": Istio's deny-all stand-in (the module did not load)"
        problems.append(f"with header '{expected.header}': expected {expected.allowed_status} from the upstream, "
                        f"saw {allowed.status} {_shown(allowed.body)}{why}")
    return problems
