#!/usr/bin/env python3
"""The sandbox's processes, started, found, waited for and stopped one way (Python and shell alike).

Two kinds:

- A daemon outlives whoever started it (registry, etcd, API server, istiod, gateways, ...).
  It runs in a session of its own, its output appended to ``DIR/NAME.log``, its pid in
  ``DIR/NAME.pid``. A pid from that file counts as the daemon only while the process is alive
  (not a zombie) and its working directory lies in DIR or its command line names DIR: a pid
  recycled by the kernel belongs to some other process, which does neither. Stopping signals
  the daemon's whole process group (pilot-agent's Envoy goes with the agent), SIGKILL after a
  timeout.
- A child (``Child``) lives as long as a test or benchmark: it gets SIGKILL when its parent
  dies, so none is left over.

Standard library only, so the shell scripts run it with any python3 (no venv):

    process.py running DIR NAME [--comm COMM]       # prints the pid; exit 1 when not running
    process.py spawn DIR NAME [--cwd D] -- ARGV...  # prints the pid
    process.py stop DIR NAME [--timeout S]          # safe when nothing runs

Also the one ``http_get`` (and ``status_of``) of the sandbox: readiness checks are HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 60.0


class ProcessError(RuntimeError):
    """A process is missing, did not start, did not get ready, or did not stop."""


# --- /proc -------------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    # comm (field 2) may hold spaces and parentheses: split after its last ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def state(pid: int) -> str:
    """The kernel's one-letter state (R, S, Z, ...), or "gone"."""
    try:
        return _stat_fields(pid)[0]
    except (OSError, IndexError):
        return "gone"


def alive(pid: int) -> bool:
    """Running or sleeping: an exited process not yet reaped (a zombie) does not count."""
    return state(pid) not in ("gone", "Z", "X")


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def processes_in_group(pgid: int) -> list[int]:
    """Live processes of a process group."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def children(pid: int) -> list[int]:
    """Direct children of pid."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return sorted({int(c) for t in tasks for c in (t / "children").read_text().split()})
    except OSError:
        return []


def _belongs_to(pid: int, owner: Path) -> bool:
    try:
        if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(owner):
            return True
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    # Any argument that is the dir or a path in it (also as --flag=/dir/...).
    return any(arg == str(owner) or f"{owner}/" in arg for arg in cmdline.split("\0"))


# --- daemons -----------------------------------------------------------------------------------

def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.log"


def running(state_dir: Path, name: str, comm_is: str | None = None) -> int | None:
    """The pid of daemon NAME of state_dir when it runs (see the module doc), else None.

    comm_is also requires the process's name (/proc/PID/comm, 15 characters at most).
    """
    state_dir = Path(os.path.realpath(state_dir))
    try:
        pid = int(pid_file(state_dir, name).read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid) or not _belongs_to(pid, state_dir):
        return None
    if comm_is is not None and comm(pid) != comm_is[:15]:
        return None
    return pid


def spawn(state_dir: Path, name: str, argv: list[str], *, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Starts daemon NAME in a session of its own; output appended to NAME.log, pid in NAME.pid.

    cwd defaults to state_dir; a daemon whose command line does not name state_dir must get a
    cwd inside it, or running() will not recognise it.
    """
    state_dir = Path(os.path.realpath(state_dir))
    state_dir.mkdir(parents=True, exist_ok=True)
    workdir = cwd or state_dir
    workdir.mkdir(parents=True, exist_ok=True)
    with open(log_file(state_dir, name), "ab") as log:  # the daemon keeps its own descriptor
        log.write(f"==== {name} start {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} ====\n".encode())
        log.flush()
        # close_fds (the default) also drops descriptors the caller holds, such as a script's lock.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=workdir, env={**os.environ, **(env or {})}, start_new_session=True)
    pid_file(state_dir, name).write_text(f"{proc.pid}\n")
    return proc.pid


def _reap(pid: int) -> None:
    # Only our own children can be reaped; any other exited process is its parent's business.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int, what: str, timeout: float = 15.0) -> None:
    """SIGTERM to pid's process group (or pid alone, when it leads none), SIGKILL after timeout."""
    try:
        group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not (processes_in_group(pid) if group else alive(pid)):
                return
            time.sleep(0.1)
        if sig == signal.SIGTERM:
            print(f"process: {what} (pid {pid}) ignored SIGTERM for {timeout:.0f}s; sending SIGKILL",
                  file=sys.stderr)
    raise ProcessError(f"{what} (pid {pid}) did not exit")


def stop(state_dir: Path, name: str, timeout: float = 15.0) -> int | None:
    """Stops daemon NAME of state_dir if it runs (returns its pid); removes its pid file either way."""
    state_dir = Path(os.path.realpath(state_dir))
    pid = running(state_dir, name)
    if pid is not None:
        stop_pid(pid, name, timeout)
    pid_file(state_dir, name).unlink(missing_ok=True)
    return pid


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(ready: Callable[[], bool], what: str, *, alive_check: Callable[[], bool], log: Path,
               timeout: float = READY_TIMEOUT_S, interval: float = 0.1) -> None:
    """Polls ready() until true; fails with the log's tail on timeout or when alive_check() turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive_check():
            raise ProcessError(f"exited before {what}; log {log}:\n{tail(log)}")
        if ready():
            return
        time.sleep(interval)
    raise ProcessError(f"not {what} after {timeout:.0f}s; log {log}:\n{tail(log)}")


def wait_daemon(state_dir: Path, name: str, what: str, ready: Callable[[], bool],
                timeout: float = READY_TIMEOUT_S) -> None:
    """wait_until for daemon NAME of state_dir; the error names the daemon."""
    try:
        wait_until(ready, what, alive_check=lambda: running(state_dir, name) is not None,
                   log=log_file(state_dir, name), timeout=timeout)
    except ProcessError as err:
        raise ProcessError(f"{name}: {err}") from None


# --- children of a test or benchmark -------------------------------------------------------------

def _die_with_parent() -> None:
    """In the child: get SIGKILL if the test process dies first (Linux), so none is left over."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class Child:
    """A child process whose stdout and stderr both go to one log file; stopped by its owner."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll ready() until true; on timeout or exit, fail with the log tail."""
        try:
            wait_until(ready, what, alive_check=lambda: self.proc.poll() is None, log=self.log_path,
                       timeout=timeout)
        except ProcessError as err:
            code = f" with {self.proc.returncode}" if self.proc.returncode is not None else ""
            raise ProcessError(f"{self.name}{code}: {err}") from None

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        """Poll the log for a regular expression; fail with the log tail if it never shows."""
        deadline = time.monotonic() + timeout
        while True:
            if m := re.search(pattern, self.log_text()):
                return m
            if time.monotonic() > deadline:
                raise ProcessError(f"{pattern!r} not in the {self.name} log after {timeout:.0f}s; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = READY_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ProcessError(f"{self.name} still running after {timeout:.0f}s; "
                               f"log {self.log_path}:\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# --- HTTP ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def http_get(url: str, headers: Headers | None = None, timeout: float = 10.0,
             tls: ssl.SSLContext | None = None) -> Response:
    """GET url (http or https); any status is returned, not raised. headers may repeat a name
    (a list of pairs), which urllib cannot send."""
    parts = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout, context=tls)
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        raise ValueError(f"not an http(s) URL: {url}")
    pairs = headers.items() if isinstance(headers, Mapping) else headers or []
    try:
        conn.putrequest("GET", urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")))
        for name, value in pairs:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def status_of(url: str, timeout: float = 1.0) -> int | None:
    """The status a GET of url answers (any status), or None when nothing answers."""
    try:
        return http_get(url, timeout=timeout).status
    except (OSError, http.client.HTTPException):
        return None


# --- command line (the shell scripts) -------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("running", help="print the pid of a running daemon; exit 1 when it does not run")
    start = sub.add_parser("spawn", help="start a daemon; print its pid")
    halt = sub.add_parser("stop", help="stop a daemon (its process group); fine when none runs")
    for p in (run, start, halt):
        p.add_argument("dir", type=Path, help="the state dir: NAME.pid and NAME.log live here")
        p.add_argument("name")
    run.add_argument("--comm", help="also require this process name")
    start.add_argument("--cwd", type=Path)
    start.add_argument("argv", nargs="+")
    halt.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    try:
        if args.command == "running":
            pid = running(args.dir, args.name, args.comm)
            if pid is None:
                return 1
            print(pid)
        elif args.command == "spawn":
            print(spawn(args.dir, args.name, args.argv, cwd=args.cwd))
        else:
            if (pid := stop(args.dir, args.name, args.timeout)) is not None:
                print(f"process: stopped {args.name} (pid {pid})", file=sys.stderr)
    except (ProcessError, OSError) as err:
        print(f"process: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
