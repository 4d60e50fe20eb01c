"""``./run demo console``: the setup console on the node that ``./run demo`` installed.

The node image has no Python, so the console runs here, offline, on the installed disk:
the image of the slot that boots is unpacked into ``build/demo/console/root``, the disk's
CONFIG partition is mounted at ``root/config`` and what it persists is copied over the
unpacked files, as the node's early boot would. ``ovirt-node-setup --root`` then edits
that tree and persists into the real CONFIG partition (files only: no service runs
here), so ``tools/vm build/demo/disk.img`` boots with the changes. Run it inside
``unshare --mount`` (``./run`` does): every mount vanishes with the process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from installer.commands import run  # noqa: E402
from installer.mounts import mounted  # noqa: E402
from ovirt_node_setup import persistence  # noqa: E402
from ovirt_node_setup.errors import ValidationError  # noqa: E402
from ovirt_node_setup.node_upgrade import opened_node  # noqa: E402

DISK = REPO / "build/demo/disk.img"
WORK = REPO / "build/demo/console"
MACHINE = REPO / "examples/machines/demo-image.json"


def unpack(slot_device: str, root: Path) -> None:
    """The slot's squashfs image as a writable tree at ``root`` (made anew each time)."""
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with mounted(slot_device, read_only=True) as slot:
        run(["unsquashfs", "-no-progress", "-quiet", "-d", str(root),
             os.path.join(slot, "LiveOS", "squashfs.img")])


def replay(root: Path) -> list[str]:
    """Put the persisted copies over the unpacked files, as early boot does (by copying:
    the console offline writes files, and a bind mount could not be replaced)."""
    store = persistence.Store(str(root), running=False)
    paths = persistence.persisted(store)
    for path in paths:
        target = store.on_node(path)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        elif os.path.lexists(target):
            os.unlink(target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        persistence.copy_entry(store.copy_of(path), target)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("disk", nargs="?", default=str(DISK))
    parser.add_argument("--work", default=str(WORK),
                        help="where the image is unpacked (made anew each time)")
    parser.add_argument("--log", default=str(REPO / "build/demo/setup.log"))
    parser.add_argument("--serial", action="store_true", help="basic mode, as on a serial line")
    args = parser.parse_args(argv)
    if not os.path.exists(args.disk):
        print(f"demo console: {args.disk} does not exist: install the demo node first with "
              "'./run demo'.", file=sys.stderr)
        return 2
    root = Path(args.work) / "root"
    try:
        with opened_node(args.disk) as node:
            slot, image = node.keep_slot()
            if not node.config:
                raise ValidationError(f"{args.disk} has no CONFIG partition: reinstall it "
                                      "with './run demo'.")
            print(f"== Unpacking {image.describe()} from slot {slot.label} into {root}")
            unpack(slot.device, root)
            config = root / "config"
            run(["mount", node.config, str(config)])
            try:
                kept = replay(root)
                print(f"== CONFIG mounted at {config}; persisted: {' '.join(kept) or 'nothing'}")
                status = subprocess.call([
                    str(Path(sys.executable).parent / "ovirt-node-setup"), "--root", str(root),
                    "--machine", str(MACHINE), "--disk", args.disk, "--log", args.log,
                    *(["--serial"] if args.serial else [])])
            finally:
                with contextlib.suppress(Exception):
                    subprocess.run(["sync"], check=False)
                run(["umount", str(config)])
    except ValidationError as err:
        print(f"demo console: {err}", file=sys.stderr)
        return 2
    if status == 0:
        print(f"== Boot the node to see the changes: tools/vm {args.disk}")
    return status


if __name__ == "__main__":
    sys.exit(main())
