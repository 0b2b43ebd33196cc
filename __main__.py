"""Delivers the header-authorization Wasm plugin to Alibaba Cloud Service Mesh."""

from pathlib import Path

import pulumi

from components.delivery import WasmPluginDelivery
from components.settings import CONFIG_KEYS, ConfigError, load_settings

config = pulumi.Config()
try:
    settings = load_settings({key: config.get(key) for key in CONFIG_KEYS}, Path(__file__).parent)
except ConfigError as err:
    # RunError prints the message alone, without a Python traceback.
    raise pulumi.RunError(str(err)) from None

delivery = WasmPluginDelivery("header-authorization", {"settings": settings})

pulumi.export("imageRef", delivery.image_ref)
pulumi.export("ociUrl", delivery.oci_url)
pulumi.export("registryEndpoint", delivery.registry_endpoint)
pulumi.export("wasmPluginName", delivery.plugin_name)
pulumi.export("wasmPluginNamespace", delivery.plugin_namespace)
pulumi.export("pullSecretClusters", delivery.pull_secret_clusters)
