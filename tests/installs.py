"""Installed node disks for tests: the reference or a made-up image, put into a sparse
file by ``ovirt-node-installer --auto --serial`` (under ``unshare -m``), as a user does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INSTALLER = Path(sys.executable).parent / "ovirt-node-installer"
SIZES = "storage_vol=100::600:8"
"""Small slots keep the sparse files and mkfs quick; the images are a few MiB."""
DISK_BYTES = 2 << 30


def installed_disk(disk: Path, source: str | Path, params: str = "") -> Path:
    """A new sparse ``disk`` with the node from ``source`` installed; ``params`` are
    boot parameters besides storage_init and the sizes."""
    with open(disk, "wb") as handle:
        handle.truncate(DISK_BYTES)
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", str(INSTALLER), "--auto",
         "--serial", "--cmdline", f"storage_init={disk} {SIZES} {params}".strip(),
         "--source", str(source), "--log", f"{disk}.log"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return disk


def sparse_copy(template: Path, copy: Path) -> Path:
    """A copy of a disk image that stays sparse (2 GiB of mostly nothing)."""
    subprocess.run(["cp", "--sparse=always", str(template), str(copy)], check=True)
    return copy
