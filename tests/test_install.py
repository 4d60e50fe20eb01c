"""Whole installs with ``ovirt-node-installer --auto`` into image files, as a user runs it.

The command runs under ``unshare -m`` so the partitions it mounts never reach the
host's mount table; everything it writes is a sparse file in the test's temp dir.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from installer import bootloader, loopdev, partition
from installer.image import ImageSource, copy_verified
from installer.mounts import mounted
from installer.steps import StepFailed
from ovirt_node_setup import bootparams
from ovirt_node_setup.auto_install import auto_install
from tools import refimage, vm

COMMAND = Path(sys.executable).parent / "ovirt-node-installer"
GiB = 1 << 30
# Small slots keep the sparse files and mkfs quick; the reference image is ~16 MiB.
SIZES = "storage_vol=100::600:8"


@pytest.fixture(scope="module")
def image():
    return refimage.build()


def new_disk(tmp_path: Path, name: str = "disk.img", size: int = 2 * GiB) -> Path:
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def install(disk: Path, source, *extra: str, cmdline: str = ""):
    line = f"storage_init={disk} {SIZES} {cmdline}".strip()
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", str(COMMAND), "--auto",
         "--cmdline", line, "--source", str(source), "--log", str(disk) + ".log", *extra],
        capture_output=True, text=True, timeout=300)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def attached_to(path: Path) -> str:
    return subprocess.run(["losetup", "--associated", str(path)], capture_output=True,
                          text=True, check=True).stdout


def test_install_into_image_file(tmp_path, image, private_mounts):
    disk, other = new_disk(tmp_path), new_disk(tmp_path, "other.img", 64 << 20)
    other.write_bytes(b"untouched" * 1000)
    before_other = sha(other)
    result = install(disk, image.path, cmdline="firstboot hostname=node9.example.com ip=dhcp")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"[1/7] Erase old signatures on {disk}"
    assert "\r" not in result.stdout  # not a terminal: plain lines only
    assert result.stdout.splitlines()[-1] == (
        f"Installed oVirt Node Reference {image.version}-{image.release} on {disk} "
        "(flash layout).")
    assert attached_to(disk) == ""  # the loop device was detached again
    assert sha(other) == before_other

    with loopdev.attached(str(disk)) as device:
        loopdev.wait_for_partitions(device, 5)
        table = partition.read_table(device)
        assert [p.name for p in table] == ["BIOS boot", "EFI", "Root", "RootBackup", "CONFIG"]
        with mounted(table[2].path, read_only=True) as root, ImageSource.open(
                str(image.path)) as source:
            for rel, _ in source.files:
                assert (Path(root) / rel).read_bytes() == Path(source.file_path(rel)).read_bytes()
        with mounted(table[4].path, read_only=True) as config:
            assert (Path(config) / "files").read_text() == "/etc/default/ovirt\n/etc/hostname\n"
            assert (Path(config) / "etc/hostname").read_text() == "node9.example.com\n"
            settings = (Path(config) / "etc/default/ovirt").read_text()
            assert 'OVIRT_HOSTNAME="node9.example.com"' in settings
            assert 'OVIRT_IPV4_METHOD="dhcp"' in settings
        with mounted(table[3].path, read_only=True) as backup:
            assert sorted(p.name for p in Path(backup).iterdir()) == ["lost+found"]


def test_refusals_exit_2_and_write_nothing(tmp_path, image):
    disk = new_disk(tmp_path)
    assert install(disk, image.path).returncode == 0
    installed = sha(disk)
    cases = [
        ((), "", "already holds a node"),  # no firstboot/reinstall over an installed node
        ((), "firstboot stateless", "'storage_init': cannot be used with 'stateless'"),
        (("--layout", "hdd"), "firstboot", "is too small"),
        ((), "firstboot upgrade", "'upgrade' keeps the installed node, and 'firstboot'"),
    ]
    for extra, cmdline, words in cases:
        result = install(disk, image.path, *extra, cmdline=cmdline)
        assert result.returncode == 2, (cmdline, result.stderr)
        assert words in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""
    missing = install(disk, tmp_path / "no-such-image", cmdline="firstboot")
    assert missing.returncode == 2 and "no-such-image" in missing.stderr
    assert sha(disk) == installed and attached_to(disk) == ""


def test_too_small_image_file_is_refused_before_writing(tmp_path, image):
    disk = new_disk(tmp_path, size=512 << 20)
    disk.write_bytes(b"\x5a" * (1 << 20))
    before = sha(disk)
    result = install(disk, image.path)
    assert result.returncode == 2
    assert f"The disk {disk} is too small" in result.stderr
    assert sha(disk) == before


STEPS = range(7)


@pytest.mark.parametrize("failing", STEPS)
def test_failure_at_any_step_leaves_nothing_bootable(tmp_path, image, private_mounts,
                                                     monkeypatch, failing, capsys):
    from installer import install as install_module

    real_steps = install_module.Install.steps

    def steps_with_failure(self):
        steps = real_steps(self)

        def fail(progress):
            raise OSError(5, "Input/output error (injected)")

        steps[failing] = install_module.Step(steps[failing].title, fail)
        return steps

    monkeypatch.setattr(install_module.Install, "steps", steps_with_failure)
    disk = new_disk(tmp_path)
    plan = bootparams.parse(f"storage_init={disk} {SIZES} hostname=n1")
    with pytest.raises(StepFailed) as caught:
        auto_install(plan, str(image.path), layout_kind=None, serial_console=False)
    assert str(caught.value).startswith(f"Step {failing + 1} (")
    assert str(caught.value).endswith("failed: Input/output error (injected)")
    assert attached_to(disk) == ""
    probe = subprocess.run(["blkid", "-p", str(disk)], capture_output=True, text=True)
    assert probe.stdout == ""  # no partition table, no filesystem: nothing to boot by label
    assert "failed: Input/output error (injected)" in capsys.readouterr().out


def _booted(result) -> str:
    return f"{result.describe()}\n{result.tail(40)}"


@pytest.mark.slow
@pytest.mark.parametrize("efi", [False, True], ids=["bios", "uefi"])
def test_installed_disk_boots_from_root(tmp_path, image, efi):
    disk = new_disk(tmp_path)
    result = install(disk, image.path, "--serial", cmdline="hostname=boot1.example.com")
    assert result.returncode == 0, result.stderr
    booted = vm.boot(disk, efi=efi, expect=r"system up, hostname \S+", timeout=150)
    assert booted.matched, _booted(booted)
    assert (f"ovirt-node: booted oVirt Node Reference {image.version}-{image.release} "
            "from slot Root") in booted.transcript
    assert "hostname boot1.example.com" in booted.transcript


@pytest.mark.slow
def test_backup_entry_boots_the_other_slot(tmp_path, image, private_mounts):
    disk = new_disk(tmp_path)
    assert install(disk, image.path, "--serial").returncode == 0
    backup = refimage.build(version="0.9", release="7")
    with loopdev.attached(str(disk)) as device:
        nodes = loopdev.wait_for_partitions(device, 5)
        with mounted(nodes[3]) as slot, ImageSource.open(str(backup.path)) as source:
            copy_verified(source, slot, lambda done, total: None, slot="RootBackup")
        bootloader.write_menu(nodes[1], bootloader.render_menu(
            product="oVirt Node Reference", version=image.version, release=image.release,
            backup=("oVirt Node Reference", "0.9", "7"), kernel_args=[], serial_console=True))
        bootloader.set_next_entry(nodes[1], "backup")
    booted = vm.boot(disk, expect=r"system up, hostname \S+", timeout=150)
    assert booted.matched, _booted(booted)
    assert "booted oVirt Node Reference 0.9-7 from slot RootBackup" in booted.transcript
