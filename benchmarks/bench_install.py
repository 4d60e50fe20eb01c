"""A whole unattended flash install of the reference image into a disk image file.

Target (issue 3): under 30 s on the project's 2-core machine. Printed beside a baseline
measured in the same run: the bare file work of an install (a sparse file, mkfs.ext4
of a Root-sized slot and a plain ``cp`` of the image), so a slow machine shows as a
slow baseline rather than as a slow installer.

Run as root: ``.venv/bin/python benchmarks/bench_install.py [--rounds 3]``. Every
install runs under ``unshare -m``; the image files live in a temp dir removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import refimage  # found through the path set above

INSTALLER = Path(sys.executable).parent / "ovirt-node-installer"
TARGET_S = 30.0


def timed(argv: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def install(image: Path, work: Path, n: int) -> float:
    disk = work / f"install-{n}.img"
    disk.unlink(missing_ok=True)
    with open(disk, "wb") as handle:
        handle.truncate(12 << 30)
    return timed(["unshare", "--mount", "--propagation", "private", str(INSTALLER), "--auto",
                  "--source", str(image), "--log", str(work / "install.log"),
                  "--cmdline", f"storage_init={disk} firstboot"])


def baseline(image: Path, work: Path, n: int) -> float:
    slot = work / f"slot-{n}.img"
    slot.unlink(missing_ok=True)
    with open(slot, "wb") as handle:
        handle.truncate(4 << 30)
    script = (f'mkfs.ext4 -F -q -L Root "{slot}" && mnt=$(mktemp -d) && '
              f'mount -o loop "{slot}" "$mnt" && cp -r "{image}"/. "$mnt" && sync && '
              'umount "$mnt" && rmdir "$mnt"')
    return timed(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    image = refimage.build().path
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        work = Path(tmp)
        base = [baseline(image, work, n) for n in range(rounds)]
        inst = [install(image, work, n) for n in range(rounds)]
    b, i = statistics.median(base), statistics.median(inst)
    print(f"baseline (mkfs.ext4 + cp + sync of one slot): median {b:.2f} s")
    print(f"ovirt-node-installer --auto, flash layout:     median {i:.2f} s")
    print(f"ratio to baseline {i / b:.2f}; target < {TARGET_S:.0f} s: "
          f"{'OK' if i < TARGET_S else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
