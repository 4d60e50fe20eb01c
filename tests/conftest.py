"""Shared fixtures: sparse disk images on loop devices, and a private mount namespace.

Nothing here touches the host's own disks or mount table: disks are sparse files in
pytest's temp dir, and mounting tests run after the test process moved into a mount
namespace of its own (mounts there vanish when pytest exits).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from installer import loopdev

CLONE_NEWNS = 0x00020000
_private = False


@pytest.fixture
def private_mounts() -> None:
    """Move the test process into its own mount namespace (once; it cannot go back)."""
    global _private
    if _private:
        return
    if os.geteuid() != 0:
        pytest.skip("mounting needs root: run the suite as root (CI does)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    _private = True


@pytest.fixture
def loop_disk(tmp_path) -> Iterator[Callable[..., str]]:
    """A factory: ``loop_disk(size_bytes, name="disk.img")`` → an attached loop device.

    Every device is detached after the test, even when it fails.
    """
    if os.geteuid() != 0:
        pytest.skip("loop devices need root: run the suite as root (CI does)")
    devices: list[str] = []

    def make(size_bytes: int, name: str = "disk.img") -> str:
        path = tmp_path / name
        with open(path, "wb") as handle:
            handle.truncate(size_bytes)
        devices.append(loopdev.attach(str(path)))
        return devices[-1]

    yield make
    for device in devices:
        _unmount_all_of(device)
        loopdev.detach(device)


def _unmount_all_of(device: str) -> None:
    """Unmount whatever a test left mounted from ``device`` or its partitions."""
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        targets = [line.split()[1] for line in handle
                   if line.split()[0] == device or line.split()[0].startswith(device + "p")]
    for target in reversed(targets):
        subprocess.run(["umount", "--lazy", target], check=False)
