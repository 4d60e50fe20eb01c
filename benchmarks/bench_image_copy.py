"""Benchmark: laying down a 1 GiB image with verification vs. ``dd bs=4M conv=fsync``.

Both copy the same four image files (the same bytes) onto the same kind of target: an
ext4 filesystem on a loop device over a fresh sparse file, made anew for every run.
``dd`` copies each file with ``conv=fsync``; the installer uses
``installer.image.copy_verified`` (copy with O_DIRECT, read back from the disk,
compare SHA-256, fsync). The order of the contenders rotates from round to round, the
medians are compared; the issue's target is a ratio of at most 1.25.

For fairness, ``dd oflag=direct conv=fsync`` (what a dd with the installer's way of
writing costs, without any verifying) is timed too and printed, but is not part of
the ratio.

Run as root: ``.venv/bin/python benchmarks/bench_image_copy.py [--size-mib 1024]
[--rounds 3] [--dir /var/tmp]``. The script moves itself into a private mount
namespace (``unshare(CLONE_NEWNS)``) and detaches its loop devices and removes its
files when it ends, however it ends.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from installer import loopdev  # noqa: E402
from installer.commands import run  # noqa: E402
from installer.image import CHUNK_SIZE, WINDOW_SIZE, ImageSource, copy_verified  # noqa: E402
from installer.mounts import mounted  # noqa: E402

MiB = 1 << 20
CLONE_NEWNS = 0x00020000


def private_mount_namespace() -> None:
    """Our mounts stay ours and vanish with the process, however it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    run(["mount", "--make-rprivate", "/"])


def make_image(folder: str, size: int) -> None:
    """An image of ``size`` bytes in all: small kernel and initrd, the rest squashfs."""
    os.makedirs(os.path.join(folder, "LiveOS"))
    with open(os.path.join(folder, "version"), "w", encoding="utf-8") as handle:
        handle.write('PRODUCT="Bench Node"\nVERSION="1.0"\nRELEASE="1"\n')
    version = os.path.getsize(os.path.join(folder, "version"))
    kernel, initrd = 8 * MiB, 24 * MiB
    block = bytearray(os.urandom(16 * MiB))  # random once, varied per block below
    for rel, length in (("vmlinuz0", kernel), ("initrd0.img", initrd),
                        ("LiveOS/squashfs.img", size - kernel - initrd - version)):
        with open(os.path.join(folder, rel), "wb") as handle:
            index, left = 0, length
            while left > 0:
                block[:8] = index.to_bytes(8, "little")
                handle.write(block[:min(left, len(block))])
                left -= len(block)
                index += 1


def warm(folder: str) -> None:
    """Read the source once so both contenders read it from the page cache."""
    for base, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(base, name), "rb") as handle:
                while handle.read(8 * MiB):
                    pass


def with_target(work: str, size: int, action) -> float:
    """Time ``action(mountpoint)`` on ext4 over a loop device on a fresh sparse file."""
    path = os.path.join(work, "target.img")
    with open(path, "wb") as handle:
        handle.truncate(size)
    try:
        with loopdev.attached(path) as device:
            run(["mkfs.ext4", "-F", "-q", device])
            with mounted(device) as mountpoint:
                os.sync()
                started = time.monotonic()
                action(mountpoint)
                return time.monotonic() - started
    finally:
        os.unlink(path)


def run_dd(source: ImageSource, target: str, *flags: str) -> None:
    os.makedirs(os.path.join(target, "LiveOS"))
    for rel, _ in source.files:
        subprocess.run(["dd", f"if={source.file_path(rel)}", f"of={os.path.join(target, rel)}",
                        "bs=4M", "conv=fsync", "status=none", *flags], check=True)


def run_installer(source: ImageSource, target: str, chunk: int, window: int) -> None:
    events = []
    copy_verified(source, target, lambda done, total: events.append(done),
                  chunk_size=chunk, window_size=window)
    if events[-1] != 2 * source.total_bytes:
        raise RuntimeError(f"progress ended at {events[-1]}, not {2 * source.total_bytes}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (1024)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (3)")
    parser.add_argument("--dir", default=None, help="where the sparse files go (a real disk, "
                        "not tmpfs; default: the temporary folder)")
    parser.add_argument("--chunk-mib", type=int, default=CHUNK_SIZE // MiB,
                        help=f"copy_verified's chunk size ({CHUNK_SIZE // MiB})")
    parser.add_argument("--window-mib", type=int, default=WINDOW_SIZE // MiB,
                        help=f"copy_verified's verify window ({WINDOW_SIZE // MiB})")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Run this as root: it uses loop devices and mounts.", file=sys.stderr)
        return 2
    private_mount_namespace()
    size = args.size_mib * MiB
    work = tempfile.mkdtemp(prefix="bench-image-copy-", dir=args.dir)
    try:
        started = time.monotonic()
        make_image(os.path.join(work, "image"), size)
        warm(os.path.join(work, "image"))
        print(f"image: {args.size_mib} MiB in {work}, made in {time.monotonic() - started:.1f} s")
        target_size = size + size // 2 + 256 * MiB
        with ImageSource.open(os.path.join(work, "image")) as source:
            contenders = {
                "dd": lambda mountpoint: run_dd(source, mountpoint),
                "installer": lambda mountpoint: run_installer(
                    source, mountpoint, args.chunk_mib * MiB, args.window_mib * MiB),
                "dd-direct": lambda mountpoint: run_dd(source, mountpoint, "oflag=direct"),
            }
            names = list(contenders)
            times: dict[str, list[float]] = {name: [] for name in names}
            for index in range(args.rounds):
                for name in names[index % 3:] + names[:index % 3]:
                    seconds = with_target(work, target_size, contenders[name])
                    times[name].append(seconds)
                    print(f"round {index + 1}: {name:9} {seconds:6.2f} s", flush=True)
        dd, ours, direct = (statistics.median(times[name]) for name in names)
        ratio = ours / dd
        print(f"dd bs=4M conv=fsync:                  median {dd:.2f} s")
        print(f"copy_verified (write + verify):       median {ours:.2f} s")
        print(f"(dd bs=4M oflag=direct conv=fsync:    median {direct:.2f} s, for information)")
        print(f"ratio {ratio:.2f} (target <= 1.25): {'OK' if ratio <= 1.25 else 'TOO SLOW'}")
        return 0 if ratio <= 1.25 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
