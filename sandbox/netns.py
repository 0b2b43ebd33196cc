"""Addresses of its own for each gateway pod: a network namespace per mesh dir, and a forwarder.

kube-apiserver proxies to a pod only at a global-unicast podIP (never loopback or link-local),
so each gateway pod needs an address that is not 127.0.0.1, and that this machine alone
reaches. The sandbox makes them (root, iproute2):

- one network namespace per mesh dir, ``asmwasm-<hash of the dir>``, joined to the root
  namespace by a veth pair ``aw<hash>h`` (root side) / ``aw<hash>p`` (in the namespace);
- one /29 of 10.244.0.0/16 per mesh dir (the pod range kubeadm-style clusters use; not routed
  anywhere here, so nothing but our veth answers it): .1 is the root side (the "node", hostIP),
  .2 and .3 the gateway pods' podIPs, on the namespace side. The /29 is the first one no veth
  of another sandbox holds, chosen under a machine-wide lock, so two sandboxes never collide;
- per gateway, a forwarder (``python -m sandbox.netns forward``): its listening socket is made
  inside the namespace on podIP:8080 (setns, then back), its outgoing sockets in the root
  namespace to the gateway's loopback listener. Plain TCP: the request, headers and all,
  reaches the gateway as sent. A few lines of Python rather than socat, so that it is started,
  found and stopped like every other daemon (sandbox/process.py) and needs no package.

Traffic goes only to loopback and to these addresses: the namespace holds nothing else.
``teardown`` deletes the namespace (and with it the veth pair).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

POOL = ipaddress.ip_network("10.244.0.0/16")
BLOCK_PREFIX = 29
LOCK = Path("/run/asm-wasm-netns.lock")
CLONE_NEWNET = 0x40000000
STATE_FILE = "netns.json"


class NetnsError(RuntimeError):
    """The network namespace could not be made or used."""


@dataclass(frozen=True)
class Netns:
    name: str
    host_veth: str
    pod_veth: str
    block: str
    host_ip: str
    pod_ips: tuple[str, ...]

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name


def names_for(root: Path) -> tuple[str, str, str]:
    """(netns, root-side veth, namespace-side veth): derived from the mesh dir, so each dir has its own.
    Interface names stay within the kernel's 15 characters."""
    digest = hashlib.sha256(str(Path(os.path.realpath(root))).encode()).hexdigest()[:8]
    return f"asmwasm-{digest}", f"aw{digest}h", f"aw{digest}p"


def block_addresses(block: ipaddress.IPv4Network, pods: int) -> tuple[str, tuple[str, ...]]:
    """(hostIP, podIPs) in a block: .1 for the root side, then one per pod."""
    hosts = list(block.hosts())
    if pods + 1 > len(hosts):
        raise NetnsError(f"{block} has room for {len(hosts) - 1} pods, not {pods}")
    return str(hosts[0]), tuple(str(h) for h in hosts[1:pods + 1])


def blocks_in_use(addresses: list[str]) -> set[ipaddress.IPv4Network]:
    """The pool's blocks that hold any of these (CIDR) addresses."""
    used = set()
    for cidr in addresses:
        addr = ipaddress.ip_interface(cidr).ip
        if addr in POOL:
            used.add(ipaddress.ip_network(f"{addr}/{BLOCK_PREFIX}", strict=False))
    return used


def choose_block(root: Path, used: set[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """A free block, starting at one derived from the dir (stable addresses across restarts)."""
    blocks = list(POOL.subnets(new_prefix=BLOCK_PREFIX))
    start = int(hashlib.sha256(str(root).encode()).hexdigest(), 16) % len(blocks)
    for i in range(len(blocks)):
        block = blocks[(start + i) % len(blocks)]
        if block not in used:
            return block
    raise NetnsError(f"no free /{BLOCK_PREFIX} left in {POOL}")


# --- iproute2 -----------------------------------------------------------------------------------

def _ip(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _root_addresses() -> list[str]:
    out = json.loads(_ip("-j", "-4", "addr", "show") or "[]")
    return [f"{a['local']}/{a['prefixlen']}" for link in out for a in link.get("addr_info", [])]


def _link_exists(name: str, netns: str | None = None) -> bool:
    args = ["-n", netns] if netns else []
    return subprocess.run(["ip", *args, "link", "show", name], capture_output=True).returncode == 0


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """One sandbox at a time chooses a block (two at once could choose the same)."""
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read(root: Path) -> Netns | None:
    try:
        raw = json.loads((root / STATE_FILE).read_text())
        return Netns(**{**raw, "pod_ips": tuple(raw["pod_ips"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _intact(ns: Netns) -> bool:
    if not ns.path.exists() or not _link_exists(ns.host_veth) or not _link_exists(ns.pod_veth, ns.name):
        return False
    return f"{ns.host_ip}/{BLOCK_PREFIX}" in _root_addresses()


def setup(root: Path, pods: int) -> Netns:
    """The mesh dir's namespace with its veth pair and addresses: reused when intact, else made anew."""
    if shutil.which("ip") is None:
        raise NetnsError("ip (iproute2) is required for the gateway pods' addresses (not on PATH)")
    root = Path(os.path.realpath(root))
    current = read(root)
    if current is not None and len(current.pod_ips) == pods and _intact(current):
        return current
    teardown(root)
    name, host_veth, pod_veth = names_for(root)
    with _machine_lock():
        block = choose_block(root, blocks_in_use(_root_addresses()))
        host_ip, pod_ips = block_addresses(block, pods)
        _ip("netns", "add", name)
        try:
            _ip("link", "add", host_veth, "type", "veth", "peer", "name", pod_veth, "netns", name)
            _ip("addr", "add", f"{host_ip}/{BLOCK_PREFIX}", "dev", host_veth)
            _ip("link", "set", host_veth, "up")
            for ip in pod_ips:
                _ip("-n", name, "addr", "add", f"{ip}/{BLOCK_PREFIX}", "dev", pod_veth)
            _ip("-n", name, "link", "set", pod_veth, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        except NetnsError:
            _ip("netns", "del", name, check=False)
            _ip("link", "del", host_veth, check=False)
            raise
    ns = Netns(name, host_veth, pod_veth, str(block), host_ip, pod_ips)
    (root / STATE_FILE).write_text(json.dumps(asdict(ns), indent=1) + "\n")
    return ns


def teardown(root: Path) -> None:
    """Deletes the mesh dir's namespace and veth pair (those its name says are its own). Safe to run twice."""
    root = Path(os.path.realpath(root))
    name, host_veth, _ = names_for(root)
    if shutil.which("ip") is None:
        return
    if (Path("/run/netns") / name).exists():
        _ip("netns", "del", name, check=False)  # takes the namespace's end of the pair, and so the pair
    if _link_exists(host_veth):
        _ip("link", "del", host_veth, check=False)
    (root / STATE_FILE).unlink(missing_ok=True)


# --- the forwarder --------------------------------------------------------------------------------

def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listen_in(netns_path: Path, host: str, port: int) -> socket.socket:
    """A listening socket on host:port inside the namespace; this thread is back in its own after."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            return socket.create_server((host, port), backlog=128)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other way may still be sending
    except (ConnectionError, OSError):
        writer.close()


async def _serve(listener: socket.socket, target_port: int) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
        finally:
            for w in (up_w, client_w):
                w.close()

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await server.serve_forever()


def forward(netns_path: Path, listen: str, target_port: int) -> None:
    host, _, port = listen.rpartition(":")
    listener = listen_in(netns_path, host, int(port))
    print(f"forwarding {listen} (in {netns_path}) -> 127.0.0.1:{target_port}", file=sys.stderr, flush=True)
    asyncio.run(_serve(listener, target_port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fwd = sub.add_parser("forward", help="listen on IP:PORT inside a netns, forward to a loopback port")
    fwd.add_argument("--netns", type=Path, required=True, help="the namespace file, e.g. /run/netns/NAME")
    fwd.add_argument("--listen", required=True, help="IP:PORT inside the namespace")
    fwd.add_argument("--to", type=int, required=True, help="port on 127.0.0.1 in this process's namespace")
    args = parser.parse_args(argv)
    try:
        forward(args.netns, args.listen, args.to)
    except OSError as err:
        print(f"netns forward: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
