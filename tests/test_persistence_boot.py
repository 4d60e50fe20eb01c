"""Persistence across real boots: an installed reference node in qemu (slow).

A disk image gets the reference image with ``ovirt-node-installer --auto`` (under
``unshare -m``), once per module; each test boots a sparse copy of it:

- what ``persist --root`` writes offline into the CONFIG partition is what early boot
  puts back (``data/early-boot.sh`` replays ``/config/files``), at every boot;
- ``stateless`` on the kernel command line (put into the node's boot menu) leaves the
  CONFIG partition alone: not one byte of it changes, so it is not even mounted.

Nothing touches the host: the installer runs under ``unshare -m``, the tests mount in
their own namespace (``private_mounts``), loop devices are detached whatever happens.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from installer import bootloader, loopdev, partition
from installer.slots import read_node
from tests.installs import installed_disk, sparse_copy
from tools import refimage, vm

BIN = Path(sys.executable).parent
PERSIST = BIN / "persist"
PRODUCT = "oVirt Node Reference"
INSTALLED_HOSTNAME = "installed.example.com"
UP = r"system up, hostname \S+"
BOOT_TIMEOUT = 150


@pytest.fixture(scope="module")
def image() -> refimage.Image:
    return refimage.build()


@pytest.fixture(scope="module")
def installed(tmp_path_factory, image) -> Path:
    """A disk with the reference image installed: serial console, a hostname (which the
    installer persists as /etc/hostname) and ``ovirt.test_poweroff`` carried onto the
    boot menu, so that the node powers off once up."""
    if os.geteuid() != 0:
        pytest.skip("loop devices and mounts need root: run the suite as root (CI does)")
    return installed_disk(tmp_path_factory.mktemp("installed") / "template.img", image.path,
                          f"hostname={INSTALLED_HOSTNAME} ovirt.test_poweroff")


@pytest.fixture
def disk(installed, tmp_path) -> Path:
    return sparse_copy(installed, tmp_path / "node.img")


def boot(disk: Path) -> vm.Result:
    """Boot ``disk`` until the node is up, and let it power off (the disk is then whole)."""
    result = vm.boot(disk, expect=UP, wait_exit=True, timeout=BOOT_TIMEOUT)
    assert result.matched, result.describe()
    assert result.exit_status is not None, "the guest did not power off: " + result.describe()
    return result


def hostname_up(result: vm.Result) -> str:
    found = re.findall(r"ovirt-node: system up, hostname (\S+)\r?\n", result.transcript)
    assert len(found) == 1, result.describe()
    return found[0]


def attached_to(path: Path) -> str:
    return subprocess.run(["losetup", "--associated", str(path)], capture_output=True,
                          text=True, check=True).stdout


def sha256_at(path: Path, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(offset)
        left = size
        while left:
            chunk = handle.read(min(left, 1 << 20))
            assert chunk, f"{path} ends before byte {offset + size}"
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_a_path_persisted_offline_is_replayed_at_every_boot(disk, tmp_path, private_mounts):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "etc/hostname").write_text("persisted.example.com\n")
    with loopdev.attached(str(disk)) as device:
        config = read_node(device).config
        assert config, "the installed disk has no CONFIG partition"
        subprocess.run(["mount", config, str(root / "config")], check=True)
        try:
            # the installer recorded /etc/hostname already: its copy is replaced
            assert (root / "config/etc/hostname").read_text() == f"{INSTALLED_HOSTNAME}\n"
            records = (root / "config/files").read_text().splitlines()
            assert "/etc/hostname" in records
            done = subprocess.run(
                [str(PERSIST), "--root", str(root), "--log", str(tmp_path / "persist.log"),
                 "/etc/hostname"], capture_output=True, text=True, timeout=60)
            assert (done.returncode, done.stderr) == (0, ""), done
            assert done.stdout == "/etc/hostname is persisted again: its copy was replaced.\n"
            assert (root / "config/etc/hostname").read_text() == "persisted.example.com\n"
            assert (root / "config/files").read_text().splitlines() == records
            assert not (root / "config/.persist-work").exists()
        finally:
            subprocess.run(["umount", str(root / "config")], check=True)
    assert attached_to(disk) == ""

    first = boot(disk)
    assert f"booted {PRODUCT} " in first.transcript, first.describe()
    # every recorded path was put back (a skip is logged as "ovirt-node: skipped ...")
    assert "ovirt-node: skipped" not in first.transcript, first.describe()
    assert hostname_up(first) == "persisted.example.com", first.describe()
    second = boot(disk)
    assert hostname_up(second) == "persisted.example.com", second.describe()


@pytest.mark.slow
def test_a_stateless_boot_leaves_the_config_partition_untouched(disk, image):
    with loopdev.attached(str(disk)) as device:
        node = read_node(device)
        options = bootloader.read_menu_options(node.esp)
        assert "ovirt.test_poweroff" in options.kernel_args  # carried from the install
        bootloader.write_menu(node.esp, bootloader.render_menu(
            product=PRODUCT, version=image.version, release=image.release, backup=None,
            kernel_args=[*options.kernel_args, "stateless"],
            serial_console=options.serial_console, timeout=options.timeout))
        menu = subprocess.run(["mcopy", "-i", node.esp, "::/EFI/BOOT/grub.cfg", "-"],
                              capture_output=True, text=True, check=True).stdout
        (part,) = [p for p in partition.read_table(device) if p.path == node.config]
        offset, size = part.start * part.sector_size, part.size_bytes
    assert attached_to(disk) == ""
    linux = [line for line in menu.splitlines() if "linux /vmlinuz0" in line]
    assert linux and all(" stateless" in line.split(" ro ", 1)[1] for line in linux), menu
    before = sha256_at(disk, offset, size)

    result = boot(disk)
    text = result.transcript
    booted = text.find(f"ovirt-node: booted {PRODUCT} {image.version}-{image.release} "
                       "from slot Root")
    stateless = text.find("ovirt-node: stateless, local storage untouched")
    assert 0 <= booted < stateless, result.describe()
    # nothing replayed: the image's own hostname, not the one persisted in /config
    assert hostname_up(result) == "localhost", result.describe()
    assert sha256_at(disk, offset, size) == before, "the CONFIG partition changed"
