"""Small edits of a Wasm module's bytes, for the benchmarks: exports, and a nonce.

keep_exports rewrites only the export section, so the code, its layout and every other section
stay byte for byte the same: an ablation build with fewer exports differs in nothing else.
with_nonce appends a custom section, which changes the module's hash (Envoy caches compiled
modules by it) and nothing that runs.
"""

from __future__ import annotations

CUSTOM_SECTION = 0
EXPORT_SECTION = 7
MAGIC = b"\0asm\1\0\0\0"


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _enc_uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _sections(data: bytes) -> list[tuple[int, int, int, int]]:
    """(id, start of the section header, start of the payload, end) for each section."""
    if data[:8] != MAGIC:
        raise ValueError("not a Wasm binary module (version 1)")
    out = []
    pos = 8
    while pos < len(data):
        start = pos
        sid = data[pos]
        size, payload = _uleb(data, pos + 1)
        out.append((sid, start, payload, payload + size))
        pos = payload + size
    return out


def _entries(data: bytes, payload: int) -> list[tuple[str, bytes]]:
    """The export section's entries: (name, the entry's bytes)."""
    count, pos = _uleb(data, payload)
    entries = []
    for _ in range(count):
        start = pos
        length, pos = _uleb(data, pos)
        name = data[pos : pos + length].decode()
        pos += length + 1  # the name, then the kind byte
        _, pos = _uleb(data, pos)  # the index
        entries.append((name, data[start:pos]))
    return entries


def exports(data: bytes) -> list[str]:
    """The names a module exports, in order."""
    for sid, _, payload, _ in _sections(data):
        if sid == EXPORT_SECTION:
            return [name for name, _ in _entries(data, payload)]
    return []


def keep_exports(data: bytes, keep: set[str]) -> bytes:
    """The module with only the exports named in keep (the code stays, unexported)."""
    for sid, start, payload, end in _sections(data):
        if sid != EXPORT_SECTION:
            continue
        kept = [raw for name, raw in _entries(data, payload) if name in keep]
        body = _enc_uleb(len(kept)) + b"".join(kept)
        return data[:start] + bytes([EXPORT_SECTION]) + _enc_uleb(len(body)) + body + data[end:]
    raise ValueError("the module has no export section")


def with_nonce(data: bytes, nonce: str) -> bytes:
    """The module plus a custom section "bench-nonce" holding nonce: same code, another hash."""
    name = b"bench-nonce"
    payload = _enc_uleb(len(name)) + name + nonce.encode()
    return data + bytes([CUSTOM_SECTION]) + _enc_uleb(len(payload)) + payload
