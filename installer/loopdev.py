"""Loop devices: how an image file becomes a disk the installer can partition."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .commands import CommandFailed, run


def attach(path: str) -> str:
    """Attach ``path`` to a free loop device and show its partitions; return the device.

    ``--partscan`` alone does not always make the kernel list the partitions (seen
    without udevd), and discovery must see them to know what the image file holds.
    """
    device = run(["losetup", "--find", "--show", "--partscan", path]).stdout.decode().strip()
    run(["partx", "--update", device], check=False)
    return device


def detach(device: str) -> None:
    run(["losetup", "--detach", device], check=False)


@contextmanager
def attached(path: str) -> Iterator[str]:
    """The loop device of ``path`` for the duration of the block, detached whatever happens."""
    device = attach(path)
    try:
        yield device
    finally:
        detach(device)


def partition_path(device: str, number: int) -> str:
    """``/dev/loop0`` + 2 → ``/dev/loop0p2``; ``/dev/sda`` + 2 → ``/dev/sda2``."""
    return f"{device}p{number}" if device[-1].isdigit() else f"{device}{number}"


def wait_for_partitions(device: str, count: int, timeout: float = 10.0) -> list[str]:
    """Make the kernel's partition nodes appear (partx) and wait for them.

    Without a running udevd the nodes may never come by themselves; ``partx -u``
    updates the kernel's view and devtmpfs then creates them. With udevd running, it
    re-reads the table of a disk closed after writing, which on loop devices drops
    the partitions a moment later: let it finish first (``udevadm settle``).
    """
    paths = [partition_path(device, n) for n in range(1, count + 1)]
    if os.path.exists("/run/udev/control"):
        run(["udevadm", "settle", "--timeout=10"], check=False)
    run(["partx", "--update", device], check=False)
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        if time.monotonic() > deadline:
            missing = [p for p in paths if not os.path.exists(p)]
            raise CommandFailed(f"The partition {missing[0]} did not appear within "
                                f"{timeout:.0f} s.")
        time.sleep(0.05)
        run(["partx", "--update", device], check=False)
    return paths
