"""ASM instance and ACK cluster ids, and whether an ASM version's Envoy can run a Go-built plugin.

Pure Python, like settings.py: the ids come from config, the version from the service mesh data
source (components/asm_access.py). A Go plugin is a wasip1 module: its runtime imports WASI
functions that Envoy stubs only from 1.33 on, so an older proxy fails to load it on every gateway.
That is cheaper to say at preview than after a rollout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from stackconfig.errors import ConfigError, key_name

# Envoy's first release with the wasip1 stubs a Go (GOOS=wasip1) module imports
# (shared/FACTS.md, "Host needs Envoy >= 1.33").
WASIP1_MIN_ENVOY_MINOR = 33

# Istio minor -> minor of the Envoy release branch its proxy is built from. ASM versions carry the
# Istio release they are built on (DescribeUpgradeVersion answers IstioOperatorVersion
# v1.10.5.34-g7689a219-aliyun with IstioVersion 1.10.5.34), so this maps ASM too.
# Sources: istio.io docs/releases/supported-releases, "Supported Envoy Versions" (1.15-1.20);
# istio/test-infra PRs that point each istio/proxy release branch at an Envoy release branch:
# #5436 (1.23 -> v1.31, "1.22 was 1.30"), #5517 (1.24), #5608 (1.25 -> v1.33), #5649 (1.26 -> v1.34),
# #5758 (1.28 -> v1.36), #5812 (1.29 -> v1.37), #5903 (1.30 -> v1.38). 1.21, 1.24 and 1.27 follow the
# same +8 step that every listed release keeps, which is also the rule used outside the table.
ISTIO_TO_ENVOY_MINOR: dict[int, int] = {
    15: 23, 16: 24, 17: 25, 18: 26, 19: 27, 20: 28, 21: 29, 22: 30,
    23: 31, 24: 32, 25: 33, 26: 34, 27: 35, 28: 36, 29: 37, 30: 38,
}
_ENVOY_OFFSET = 8

# The forms ASM shows: ServiceMeshInfo.Version 'v1.22.6.62-g5ddeaef7-aliyun' (also in pulumi-alicloud's
# own examples: 'v1.21.6.103-g5ddeaef7-aliyun'), IstioVersion '1.10.5.34', and a bare 'v1.26'.
_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?:\.(?P<build>\d+))?"
                      r"(?:-[0-9A-Za-z][0-9A-Za-z.-]*)?$")
VERSION_FORMS = "v1.22.6.62-g5ddeaef7-aliyun, 1.25.2.10 or v1.26 (1.<minor>[.<patch>[.<build>]], " \
                "an optional leading 'v' and '-suffix')"

# Both ids are 'c' + 32 hex digits: ServiceMeshId 'c08ba3fd1e6484b0f8cc1ad8fe10d****' in the ASM API
# reference (DescribeServiceMeshDetail), ClusterId 'c5b5e80b0b64a4bf6939d2d8fbbc5****' in ACK's
# (DescribeClusterUserKubeconfig), each with its last 4 digits masked.
ASM_INSTANCE_ID = re.compile(r"^c[0-9a-f]{32}$")
ACK_CLUSTER_ID = re.compile(r"^c[0-9a-f]{32}$")
ID_FORM = "'c' followed by 32 lowercase hex digits, like c08ba3fd1e6484b0f8cc1ad8fe10d1234"
# The cluster name becomes part of resource names, as for dataPlaneKubeconfigs (settings.py).
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

INSTANCE_KEY = "asmInstanceId"
CLUSTERS_KEY = "dataPlaneClusterIds"


@dataclass(frozen=True)
class AsmVersion:
    text: str
    """As the data source gave it."""
    minor: int
    patch: int | None

    @property
    def istio_minor(self) -> int:
        return self.minor

    @property
    def envoy_minor(self) -> int:
        return ISTIO_TO_ENVOY_MINOR.get(self.minor, self.minor + _ENVOY_OFFSET)

    @property
    def short(self) -> str:
        """v1.22.6: what a user recognises from the console, without the build and commit."""
        return f"v1.{self.minor}" + ("" if self.patch is None else f".{self.patch}")


def parse_asm_version(text: object, where: str) -> AsmVersion:
    """The version `where` (e.g. "ASM instance 'c…'") reports, or a ConfigError saying what was found."""
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if not isinstance(text, str) or match is None or match["major"] != "1":
        shown = "no version" if text in (None, "") else f"the version {text!r}, not an ASM 1.x version"
        raise ConfigError(f"{where} reports {shown}; expected a form like {VERSION_FORMS}. Without it, whether the "
                          "mesh's Envoy can run a Go-built (wasip1) plugin cannot be checked")
    patch = match["patch"]
    return AsmVersion(text=text.strip(), minor=int(match["minor"]), patch=None if patch is None else int(patch))


# The oldest ASM (Istio) minor whose Envoy loads a wasip1 module: 1.25.
MIN_ASM_MINOR = min(istio for istio, envoy in ISTIO_TO_ENVOY_MINOR.items() if envoy >= WASIP1_MIN_ENVOY_MINOR)


def check_envoy_supports_wasip1(version: object, where: str) -> AsmVersion:
    """The parsed version if its Envoy loads a wasip1 module; otherwise a ConfigError naming both versions."""
    parsed = parse_asm_version(version, where)
    if parsed.envoy_minor < WASIP1_MIN_ENVOY_MINOR:
        raise ConfigError(
            f"{where} runs ASM {parsed.short} (Istio 1.{parsed.istio_minor}, Envoy 1.{parsed.envoy_minor}); a "
            f"Go-built (wasip1) plugin needs Envoy 1.{WASIP1_MIN_ENVOY_MINOR} or later: ASM 1.{MIN_ASM_MINOR} or "
            f"later. Upgrade the mesh to ASM 1.{MIN_ASM_MINOR} or later, then its gateways and sidecars (they keep "
            "their old Envoy until upgraded); on this mesh every gateway would fail to load the plugin")
    return parsed


def check_instance_id(value: object) -> str:
    """The asmInstanceId config value, checked for form only (the lookup says whether it exists)."""
    if not isinstance(value, str) or not ASM_INSTANCE_ID.match(value):
        raise ConfigError(f"config key '{key_name(INSTANCE_KEY)}' is {value!r}; expected an ASM instance id: {ID_FORM} "
                          "(ASM console, the instance's basic information)")
    return value


def check_cluster_ids(raw: Mapping[str, object]) -> dict[str, str]:
    """The dataPlaneClusterIds config value (cluster name -> ACK cluster id, as a parsed JSON object),
    checked for form only (the lookup says whether each cluster exists)."""
    clusters: dict[str, str] = {}
    for name, cluster_id in raw.items():
        if not isinstance(name, str) or not _CLUSTER_NAME.match(name):
            raise ConfigError(f"config key '{key_name(CLUSTERS_KEY)}' has cluster name {name!r}; expected a DNS label "
                              "(lowercase letters, digits, '-', at most 63): it becomes part of resource names")
        if not isinstance(cluster_id, str) or not ACK_CLUSTER_ID.match(cluster_id):
            raise ConfigError(f"config key '{key_name(CLUSTERS_KEY)}' has {cluster_id!r} for cluster {name!r}; "
                              f"expected an ACK cluster id: {ID_FORM} (ACK console, the cluster's basic information)")
        clusters[name] = cluster_id
    if len(set(clusters.values())) != len(clusters):
        raise ConfigError(f"config key '{key_name(CLUSTERS_KEY)}' is {clusters!r}: one ACK cluster under two names "
                          "would get two pull Secrets and two checks; give each data-plane cluster once")
    return clusters
