from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.harness import dev_stack_config


@pytest.fixture
def wasm_file(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.wasm"
    path.write_bytes(b"\0asm\x01\0\0\0")
    return path


@pytest.fixture
def dev_config(wasm_file: Path) -> dict[str, Any]:
    config = dev_stack_config()
    config["wasmFile"] = str(wasm_file)
    return config
