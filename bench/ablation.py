"""Ablation builds of the plugin: the shipped SDK build with one per-request cost removed each.

Each build is plugin/ as of git revision BASE_REV (the shipped build before issue #15's
changes; --rev picks another), extracted with `git archive` into the output folder and changed
there (the SDK through a patched copy and a replace directive), and, for the export variants,
with exports removed from the linked module. They are for measurement only, several of them
wrong on purpose (no log line, a leak): never ship one. Measure them in one run with the real
plugin and the raw-ABI build:

    venv/bin/python -m bench.ablation --out /tmp/ablation        # prints --compare-wasm arguments
    make bench BENCH_ARGS="--rounds 3 --duration 5 --no-latency $(venv/bin/python -m bench.ablation)"

Variants (see docs/benchmarks.md, "Where the SDK build's extra time went"):

  base        BASE_REV's plugin/, built the way its build.sh built it
  nolog       no debug line on a denial (neither built nor handed to proxy_log)
  reply       the deny reply's headers serialised once at start, sent with our own
              proxy_send_local_response import (the SDK serialises them on every call)
  alloc       the SDK's proxy_on_memory_allocate hands out one reused buffer instead of a
              new slice per call (a header read then allocates nothing)
  gcoff       the Go GC switched off (debug.SetGCPercent(-1)): what collections cost
  exports     only the callbacks the plugin uses are exported; Envoy skips the others
              (response headers and body, log, done, ...): proxy_on_delete stays
  nodelete    as `exports`, and proxy_on_delete removed too (leaks the SDK's per-stream
              map entries: measurement only)

A revision whose plugin/ has exports.txt (issue #15 on) is built with its own build.sh, so its
variants get the same post-link steps as the module that ships (--rev f313544~1 --prefix new-:
the last SDK build; from f313544 on, plugin/ runs on its own ABI layer and these variants do not apply).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.wasmbin import exports, keep_exports

REPO = Path(__file__).resolve().parent.parent
SDK = "github.com/proxy-wasm/proxy-wasm-go-sdk"
# The last commit with the SDK build as it was before issue #15 (2.82 MB, every SDK export).
BASE_REV = "91baccf"

# The exports the plugin needs: the ABI marker, the allocator, start, configuration, the
# stream's creation and request headers, and its deletion (the SDK's per-stream map).
NEEDED_EXPORTS = (
    "_initialize",
    "memory",
    "proxy_abi_version_0_2_0",
    "proxy_on_memory_allocate",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_context_create",
    "proxy_on_request_headers",
    "proxy_on_delete",
)

LOG_CALL = """	p.logBuf = p.cfg.AppendDenyLog(p.logBuf[:0], verdict.Got)
	proxywasm.LogDebug(bytesAsString(p.logBuf))
"""
DENY_REPLY = "	return respond(p.cfg.DenyStatus, p.denyHeaders, p.denyBody)\n"

REPLY_ONCE_GO = """package main

import (
	"encoding/binary"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

//go:wasmimport env proxy_send_local_response
func ablationSendLocalResponse(status uint32, details *byte, detailsSize int32,
	body *byte, bodySize int32, headers *byte, headersSize int32, grpcStatus int32) uint32

var ablationDenyHeaders []byte

func ablationRespond(status uint32, headers [][2]string, body []byte) types.Action {
	if ablationDenyHeaders == nil {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(headers)))
		for _, kv := range headers {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
			b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
		}
		for _, kv := range headers {
			b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
		}
		ablationDenyHeaders = b
	}
	ablationSendLocalResponse(status, nil, 0, unsafe.SliceData(body), int32(len(body)),
		unsafe.SliceData(ablationDenyHeaders), int32(len(ablationDenyHeaders)), -1)
	return types.ActionPause
}
"""

GC_OFF_GO = """package main

import "runtime/debug"

func init() { debug.SetGCPercent(-1) }
"""

ALLOC_REUSE_GO = """package internal

var ablationArena = make([]byte, 4096)

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	if int(size) <= len(ablationArena) {
		return &ablationArena[0]
	}
	buf := make([]byte, size)
	return &buf[0]
}
"""


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise SystemExit(f"ablation: plugin/main.go no longer contains {old!r}; update bench/ablation.py")
    return text.replace(old, new)


@dataclass(frozen=True)
class Variant:
    name: str
    main_go: Callable[[str], str] = lambda s: s
    new_files: dict[str, str] = field(default_factory=dict)  # extra files in the main package
    sdk_files: dict[str, str] = field(default_factory=dict)  # SDK files replaced, by path in the module
    keep: tuple[str, ...] | None = None  # exports to keep; None: all


VARIANTS = [
    Variant("base"),
    Variant("nolog", main_go=lambda s: _replace(s, LOG_CALL, "")),
    Variant(
        "reply",
        main_go=lambda s: _replace(
            s, DENY_REPLY, "	return ablationRespond(p.cfg.DenyStatus, p.denyHeaders, p.denyBody)\n"
        ),
        new_files={"ablation_reply.go": REPLY_ONCE_GO},
    ),
    Variant("alloc", sdk_files={"proxywasm/internal/abi_callback_alloc.go": ALLOC_REUSE_GO}),
    Variant("gcoff", new_files={"ablation_gc.go": GC_OFF_GO}),
    Variant("exports", keep=NEEDED_EXPORTS),
    Variant("nodelete", keep=tuple(e for e in NEEDED_EXPORTS if e != "proxy_on_delete")),
]


def sdk_dir(plugin: Path) -> Path:
    def where() -> str:
        argv = ["go", "list", "-m", "-f", "{{.Dir}}", SDK]
        return subprocess.run(argv, cwd=plugin, capture_output=True, text=True, check=True).stdout.strip()

    if not where():  # not downloaded yet
        subprocess.run(["go", "mod", "download", SDK], cwd=plugin, check=True)
    return Path(where())


def extract(rev: str, out_dir: Path, name: str) -> Path:
    """plugin/ as of rev, in out_dir/name.src/plugin."""
    work = out_dir / f"{name}.src"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "plugin"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    return work / "plugin"


def build(variant: Variant, out_dir: Path, rev: str = BASE_REV, prefix: str = "") -> Path:
    """rev's plugin/ built with the variant's changes; returns the module's path."""
    variant = dataclasses.replace(variant, name=prefix + variant.name)
    plugin = extract(rev, out_dir, variant.name)
    main_go = plugin / "main.go"
    main_go.write_text(variant.main_go(main_go.read_text()))
    for name, text in variant.new_files.items():
        (plugin / name).write_text(text)
    if variant.sdk_files:
        # The module cache may not be overlaid: build against a patched copy of the SDK.
        sdk = plugin.parent / "sdk"
        shutil.copytree(sdk_dir(plugin), sdk)
        sdk.chmod(0o755)
        for rel, text in variant.sdk_files.items():
            target = sdk / rel
            if not target.is_file():
                raise SystemExit(f"ablation: the SDK has no {rel} any more; update bench/ablation.py")
            target.chmod(0o644)
            target.write_text(text)
        subprocess.run(["go", "mod", "edit", f"-replace={SDK}={sdk}"], cwd=plugin, check=True)
    wasm = out_dir / f"{variant.name}.wasm"
    if (plugin / "exports.txt").is_file():
        # A revision with the post-link steps (exports, wasm-opt): build it as it ships.
        subprocess.run([str(plugin / "build.sh"), "."], check=True)
        shutil.copyfile(plugin / "plugin.wasm", wasm)
    else:
        env = {**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"}
        argv = ["go", "build", "-buildmode=c-shared", "-trimpath", "-o", str(wasm), "."]
        subprocess.run(argv, cwd=plugin, env=env, check=True)
    if variant.keep is not None:
        missing = set(variant.keep) - set(exports(wasm.read_bytes()))
        if missing:
            raise SystemExit(f"ablation: {variant.name}: the module lacks {sorted(missing)}")
        wasm.write_bytes(keep_exports(wasm.read_bytes(), set(variant.keep)))
    return wasm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="where the modules go (default: a new temp dir)")
    parser.add_argument("--rev", default=BASE_REV, help=f"the plugin/ to start from (default {BASE_REV})")
    parser.add_argument(
        "--flag", default="--compare-wasm", help="the option printed before each build (bench.ab: --build)"
    )
    parser.add_argument("--prefix", default="", help="prefix of the labels (e.g. new- for --rev HEAD)")
    parser.add_argument("variants", nargs="*", help=f"default: all of {', '.join(v.name for v in VARIANTS)}")
    args = parser.parse_args(argv)
    by_name = {v.name: v for v in VARIANTS}
    if unknown := [n for n in args.variants if n not in by_name]:
        parser.error(f"unknown variants {unknown}")
    out = args.out or Path(tempfile.mkdtemp(prefix="ablation-"))
    out.mkdir(parents=True, exist_ok=True)
    paths = [(args.prefix + n, build(by_name[n], out, args.rev, args.prefix)) for n in (args.variants or by_name)]
    print(" ".join(f"{args.flag} {n}={p}" for n, p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
