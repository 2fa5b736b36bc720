"""The Makefile's promise to a newcomer: without Node.js, `make demo` stops with a plain message
instead of failing somewhere inside npm."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_without_node_the_build_stops_with_a_clear_message(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"  # a PATH with the shell tools make needs, and no node
    bin_dir.mkdir()
    for tool in ("bash", "sh", "find", "env"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)

    result = subprocess.run(
        [make, "-s", "-C", str(REPO), "node"],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Node.js 20 or newer is needed to build the web app" in result.stderr
