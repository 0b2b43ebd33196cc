"""Policy pack: run with `pulumi preview --policy-pack policy`."""

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from wasm_rules import (
    EXTENSION_TYPES,
    fail_open_allowed,
    pull_secret_in_plugin_namespace,
    selector_required,
    url_pinned,
)


def _for_wasm_plugins(rule):  # noqa: ANN001, ANN202 - adapts a pure rule to pulumi_policy's callback
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type in EXTENSION_TYPES:
            for message in rule(args.props):
                report_violation(message, None)

    return validate


def _fail_open(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in EXTENSION_TYPES:
        for message in fail_open_allowed(args.props, bool(args.get_config().get("allowFailOpen", False))):
            report_violation(message, None)


def _pull_secret(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for message in pull_secret_in_plugin_namespace((r.resource_type, r.props) for r in args.resources):
        report_violation(message, None)


PolicyPack(
    name="asm-wasm-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="wasmplugin-selects-workloads",
            description="A WasmPlugin names the workloads it applies to (selector or targetRefs).",
            validate=_for_wasm_plugins(selector_required),
        ),
        ResourceValidationPolicy(
            name="wasmplugin-pinned-by-digest",
            description="A WasmPlugin url is pinned by digest or spec.sha256.",
            validate=_for_wasm_plugins(url_pinned),
        ),
        ResourceValidationPolicy(
            name="wasmplugin-fails-closed",
            description="A WasmPlugin denies traffic when it cannot load, unless allowFailOpen is set.",
            validate=_fail_open,
            config_schema=PolicyConfigSchema(properties={"allowFailOpen": {"type": "boolean", "default": False}}),
        ),
        StackValidationPolicy(
            name="pull-secret-in-plugin-namespace",
            description="A WasmPlugin's imagePullSecret is created in the WasmPlugin's own namespace.",
            validate=_pull_secret,
        ),
    ],
)
