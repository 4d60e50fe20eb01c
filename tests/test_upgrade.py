"""``ovirt-node-upgrade`` on installed disk images: slots, labels, menu, boot trial, refusals,
and a crash at every write, as a user runs it (root, loop devices, ``unshare -m``).

The images here are small made-up ones (an upgrade never looks inside the squashfs);
booting upgraded disks is tested in qemu at the end (slow).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from installer import bootloader, loopdev
from installer import upgrade as upgrade_module
from installer.machine import ImageInfo
from installer.slots import (
    BACKUP,
    FAILED,
    NEXT,
    PENDING,
    ROOT,
    TRIAL,
    NodeDisk,
    read_admin_hash,
    read_node,
    read_version,
)
from installer.steps import StepFailed
from installer.upgrade import AlreadyInstalled
from installer.versions import compare_versions, parse_described
from ovirt_node_setup import node_upgrade
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.passwords import hash_password, verify_password
from tests.installs import installed_disk, sparse_copy

BIN = Path(sys.executable).parent
UPGRADE = BIN / "ovirt-node-upgrade"
INSTALLER = BIN / "ovirt-node-installer"
PRODUCT = "oVirt Node Reference"
GiB, MiB = 1 << 30, 1 << 20


def make_image(folder: Path, version: str, release: str = "1", *, product: str = PRODUCT,
               squashfs_bytes: int = MiB) -> Path:
    """A node image folder with made-up contents and a real version file."""
    (folder / "LiveOS").mkdir(parents=True)
    (folder / "vmlinuz0").write_bytes(b"kernel " + version.encode())
    (folder / "initrd0.img").write_bytes(b"initrd " + version.encode())
    with open(folder / "LiveOS" / "squashfs.img", "wb") as handle:
        handle.write(version.encode() * 64)
        handle.truncate(squashfs_bytes)
    (folder / "version").write_text(
        f'PRODUCT="{product}"\nVERSION="{version}"\nRELEASE="{release}"\n')
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("images")
    return {name: make_image(base / name, version, release) for name, version, release in
            (("v1", "1.0", "1"), ("v2", "1.1", "1"), ("v3", "1.2", "1"), ("old", "0.9", "4"))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory, images) -> Path:
    """A disk image with v1 installed (serial console, a carried parameter, a password)."""
    if os.geteuid() != 0:
        pytest.skip("loop devices and mounts need root: run the suite as root (CI does)")
    return installed_disk(
        tmp_path_factory.mktemp("installed") / "template.img", images["v1"],
        f"hostname=up1.example.com adminpw={hash_password('old-secret')} quiet")


@pytest.fixture
def disk(installed, tmp_path) -> Path:
    return sparse_copy(installed, tmp_path / "node.img")


def upgrade(disk: Path, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", str(UPGRADE), "--disk", str(disk),
         "--source", str(source), "--log", str(disk) + ".upgrade.log", *extra],
        capture_output=True, text=True, timeout=300)


def node_of(disk: Path) -> tuple[NodeDisk, str]:
    """The node on ``disk`` and its menu, read through a loop device detached again."""
    with loopdev.attached(str(disk)) as device:
        node = read_node(device)
        menu = subprocess.run(["mcopy", "-i", node.esp, "::/EFI/BOOT/grub.cfg", "-"],
                              capture_output=True, text=True, check=True).stdout
        return node, menu


def images_by_label(node: NodeDisk) -> dict[str, str | None]:
    return {s.label: s.image.describe() if s.image else None for s in node.slots}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- version arithmetic (no root needed) -----------------------------------------------------

@pytest.mark.parametrize(("a", "b", "order"), [
    (("1.10", "1"), ("1.9", "9"), 1),
    (("1.0", "2"), ("1.0", "10"), -1),
    (("4.4.1", "1"), ("4.4", "7"), 1),
    (("1.0", "1"), ("1.0", "1"), 0),
    (("1.0a", "1"), ("1.0", "1"), 1),
    (("1.0", "1.el9"), ("1.0", "1"), 1),
    (("2", "1"), ("beta", "1"), 1),
])
def test_versions_compare_the_way_rpm_does(a, b, order):
    left, right = ImageInfo(PRODUCT, *a, 0), ImageInfo(PRODUCT, *b, 0)
    assert compare_versions(left, right) == order
    assert compare_versions(right, left) == -order


def test_a_described_image_reads_back():
    assert parse_described("oVirt Node Reference 0.9-1") == ImageInfo(PRODUCT, "0.9", "1", 0)
    assert parse_described("Node 2.0") == ImageInfo("Node", "2.0", "", 0)
    assert parse_described("nonsense") is None
    assert parse_described("Node 1-2-3") is None


def test_the_booted_slot_comes_from_the_kernel_command_line():
    assert node_upgrade.booted_slot("ro root=live:LABEL=Root quiet") == ROOT
    assert node_upgrade.booted_slot("root=live:LABEL=RootBackup") == BACKUP
    assert node_upgrade.booted_slot("root=/dev/sda1") is None
    assert node_upgrade.booted_slot("quiet") is None
    for stateless in ("stateless", "stateless=yes", "stateless=0 stateless=on"):
        with pytest.raises(ValidationError, match="stateless"):
            node_upgrade.running_node_disk(f"root=live:LABEL=Root {stateless}")
    with pytest.raises(ValidationError, match="give the node's disk with --disk"):
        node_upgrade.running_node_disk("root=/dev/sda1")


# -- upgrades as a user runs them --------------------------------------------------------------

def test_upgrade_writes_the_other_slot_and_keeps_the_running_image_as_backup(disk, images):
    node, menu_before = node_of(disk)
    with loopdev.attached(str(disk)) as device:
        config_before = digest(Path(read_node(device).config))
    result = upgrade(disk, images["v2"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"[1/6] Keep {PRODUCT} 1.0-1 as the current image and retire the " \
                       "unused slot"
    assert lines[-1] == (f"Upgraded {disk} to {PRODUCT} 1.1-1; {PRODUCT} 1.0-1 stays as the "
                         "backup image. The next boot tries the new image once and falls "
                         "back to the backup if it does not come up.")
    node, menu = node_of(disk)
    assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.1-1", BACKUP: f"{PRODUCT} 1.0-1"}
    assert node.trial == PENDING
    assert f"menuentry '{PRODUCT} 1.1-1' --id current" in menu
    assert f"menuentry 'BACKUP {PRODUCT} 1.0-1' --id backup" in menu
    # the same kernel parameters and consoles as the install gave the menu
    linux = [line.split("ro ", 1)[1] for line in menu.splitlines() if "linux /vmlinuz0" in line]
    before = [line.split("ro ", 1)[1] for line in menu_before.splitlines()
              if "linux /vmlinuz0" in line]
    assert linux == [*before, before[0].replace("$trial_flag $trial_panic ", "")]
    assert "console=ttyS0,115200n8" in linux[0]
    assert "quiet" in linux[0]
    with loopdev.attached(str(disk)) as device:
        node = read_node(device)
        assert digest(Path(node.config)) == config_before  # /config is left alone
        assert verify_password("old-secret", read_admin_hash(node))
    assert loopdev_of(disk) == ""

    status = subprocess.run([str(UPGRADE), "--status", "--disk", str(disk)],
                            capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    assert status.stdout == (
        f"{disk}:\n"
        f"  slot Root       (partition 4): {PRODUCT} 1.1-1\n"
        f"  slot RootBackup (partition 3): {PRODUCT} 1.0-1\n"
        "  an upgrade waits for its first boot: the next boot tries the Root slot\n")


def loopdev_of(path: Path) -> str:
    return subprocess.run(["losetup", "--associated", str(path)], capture_output=True,
                          text=True, check=True).stdout


def test_the_same_version_is_nothing_to_do_and_force_writes_it_again(disk, images):
    before = digest(disk)
    again = upgrade(disk, images["v1"])
    assert again.returncode == 0, again.stderr
    assert again.stdout == (f"ovirt-node-upgrade: {disk} already runs {PRODUCT} 1.0-1: nothing "
                            "to upgrade (give --force to write it again).\n")
    assert digest(disk) == before
    forced = upgrade(disk, images["v1"], "--force")
    assert forced.returncode == 0, forced.stderr
    node, _ = node_of(disk)
    assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.0-1", BACKUP: f"{PRODUCT} 1.0-1"}


def test_refusals_say_why_exit_2_and_write_nothing(disk, images, tmp_path):
    other = make_image(tmp_path / "other", "9.0", product="Another Node")
    huge = make_image(tmp_path / "huge", "2.0", squashfs_bytes=560 * MiB)
    empty = tmp_path / "empty.img"
    with open(empty, "wb") as handle:
        handle.truncate(64 * MiB)
    before = digest(disk)
    cases = [
        (upgrade(disk, images["old"]),
         f"The image {PRODUCT} 0.9-4 is older than {PRODUCT} 1.0-1 on {disk}: give "
         "--downgrade to install it anyway."),
        (upgrade(disk, other),
         f"{disk} runs {PRODUCT} 1.0-1 and the image is Another Node 9.0-1: an upgrade keeps "
         "the product; reinstall to change it."),
        (upgrade(disk, huge), "needs a slot of 616 MiB, but the slots of"),
        (upgrade(disk, tmp_path / "missing"), "does not exist: give a node image folder or ISO"),
        (upgrade(empty, images["v2"]), "holds no installed node"),
        (upgrade(tmp_path / "nowhere.img", images["v2"]), "does not exist: give the node's disk"),
        (subprocess.run([str(UPGRADE), "--disk", str(disk)], capture_output=True, text=True),
         "Give the new image with --source IMAGE"),
        (subprocess.run([str(UPGRADE), "--source", str(images["v2"]), "--cmdline",
                         "root=live:LABEL=Root stateless"], capture_output=True, text=True),
         "runs stateless"),
    ]
    for result, words in cases:
        assert result.returncode == 2, (words, result.stdout, result.stderr)
        assert words in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    assert digest(disk) == before
    downgraded = upgrade(disk, images["old"], "--downgrade")
    assert downgraded.returncode == 0, downgraded.stderr
    assert images_by_label(node_of(disk)[0])[ROOT] == f"{PRODUCT} 0.9-4"


def test_explain_lists_the_steps_and_changes_nothing(disk, images):
    import json

    before = digest(disk)
    result = upgrade(disk, images["v2"], "--explain")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["keep"] == {"slot": ROOT, "image": f"{PRODUCT} 1.0-1"}
    assert plan["overwrite"]["slot"] == BACKUP and plan["overwrite"]["image"] is None
    assert len(plan["steps"]) == 6
    assert digest(disk) == before


def test_an_untried_upgrade_is_replaced_and_the_proven_image_kept(disk, images):
    assert upgrade(disk, images["v2"]).returncode == 0  # pending: 1.1 never booted yet
    result = upgrade(disk, images["v3"])
    assert result.returncode == 0, result.stderr
    node, menu = node_of(disk)
    assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.2-1", BACKUP: f"{PRODUCT} 1.0-1"}
    assert node.trial == PENDING
    assert f"BACKUP {PRODUCT} 1.0-1" in menu


def test_after_a_failed_trial_the_backup_is_kept_and_the_failed_image_replaced(disk, images):
    assert upgrade(disk, images["v2"]).returncode == 0
    with loopdev.attached(str(disk)) as device:
        bootloader.write_env(read_node(device).esp, **{TRIAL: FAILED})  # as grub would
    status = subprocess.run([str(UPGRADE), "--status", "--disk", str(disk)],
                            capture_output=True, text=True)
    assert "did not come up: the RootBackup slot boots" in status.stdout
    result = upgrade(disk, images["v3"])
    assert result.returncode == 0, result.stderr
    node, _ = node_of(disk)
    assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.2-1", BACKUP: f"{PRODUCT} 1.0-1"}


def test_the_upgrade_boot_parameter_upgrades_the_node_with_auto(disk, images):
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", str(INSTALLER), "--auto",
         "--cmdline", f"upgrade storage_init={disk} quiet", "--source", str(images["v2"]),
         "--log", str(disk) + ".auto.log"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"Upgraded {disk} to {PRODUCT} 1.1-1;")
    assert images_by_label(node_of(disk)[0]) == {ROOT: f"{PRODUCT} 1.1-1",
                                                 BACKUP: f"{PRODUCT} 1.0-1"}
    again = subprocess.run(
        [str(INSTALLER), "--auto", "--cmdline", f"upgrade storage_init={disk}", "--source",
         str(images["v2"]), "--log", str(disk) + ".auto.log"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (f"ovirt-node-installer: {disk} already has {PRODUCT} 1.1-1 waiting "
                            "for its first boot: nothing to upgrade (give --force to write it "
                            "again).\n")


# -- a crash at every write ----------------------------------------------------------------------

class Crash(Exception):
    """The power went off."""


def grub_would_boot(node: NodeDisk, menu: str) -> str | None:
    """The image grub boots from this disk (data/grub.cfg.in's rules), or None."""
    by_label = {s.label: s for s in node.slots}
    has_backup = "--id backup" in menu

    def bootable(label: str) -> str | None:
        slot = by_label.get(label)
        return slot.image.describe() if slot and slot.image else None

    entry = "backup" if node.trial in ("trying", FAILED) and has_backup else "current"
    first, second = (BACKUP, ROOT) if entry == "backup" else (ROOT, BACKUP)
    return bootable(first) or (bootable(second) if has_backup else None)


def _writes(monkeypatch, budget: list[int]) -> None:
    """Make every write of an upgrade count against ``budget``; at 0 the power fails."""
    def counted(function):
        def wrapper(*args, **kwargs):
            if budget[0] == 0:
                raise Crash
            budget[0] -= 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(upgrade_module, "_relabel", counted(upgrade_module._relabel))
    monkeypatch.setattr(upgrade_module, "copy_verified", counted(upgrade_module.copy_verified))
    for module, name in ((upgrade_module.filesystems, "make"),
                         (upgrade_module.bootloader, "write_menu"),
                         (upgrade_module.bootloader, "write_env")):
        monkeypatch.setattr(module, name, counted(getattr(module, name)))


def _upgrade_in_process(disk: Path, image: Path) -> None:
    from installer.image import ImageSource

    with ImageSource.open(str(image)) as source:
        node_upgrade.upgrade_disk(str(disk), source, lambda event: None)


WRITES = 9  # retire: menu, env; mkfs; copy; menu, env; two labels; (and a failed trial: 2 more)


@pytest.mark.parametrize("trial", ["", FAILED])
def test_a_crash_at_any_write_leaves_a_bootable_disk_and_a_rerun_finishes(
        disk, images, tmp_path, private_mounts, monkeypatch, trial):
    if trial:
        assert upgrade(disk, images["v2"]).returncode == 0
        with loopdev.attached(str(disk)) as device:
            bootloader.write_env(read_node(device).esp, **{TRIAL: trial})
    kept = f"{PRODUCT} 1.0-1"
    template = tmp_path / "before.img"
    shutil.copyfile(disk, template)
    outcomes = set()
    for crash_after in range(WRITES + 2):
        subprocess.run(["cp", "--sparse=always", str(template), str(disk)], check=True)
        with monkeypatch.context() as patch:
            budget = [crash_after]
            _writes(patch, budget)
            try:
                _upgrade_in_process(disk, images["v3"])
                outcomes.add("finished")
            except (Crash, StepFailed):
                outcomes.add("crashed")
        assert loopdev_of(disk) == ""
        node, menu = node_of(disk)
        booted = grub_would_boot(node, menu)
        assert booted in (kept, f"{PRODUCT} 1.2-1"), (crash_after, node, menu)
        with contextlib.suppress(AlreadyInstalled):  # when the first run finished
            _upgrade_in_process(disk, images["v3"])  # the rerun after the crash completes
        node, menu = node_of(disk)
        assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.2-1", BACKUP: kept}, crash_after
        assert node.trial == PENDING and grub_would_boot(node, menu) == f"{PRODUCT} 1.2-1"
    assert outcomes == {"crashed", "finished"}


def test_a_failed_copy_says_which_step_and_the_node_still_boots_the_kept_image(
        disk, images, private_mounts, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error (injected)")

    monkeypatch.setattr(upgrade_module, "copy_verified", broken)
    with pytest.raises(StepFailed, match=r"^Step 3 \(Copy .* failed: Input/output error"):
        _upgrade_in_process(disk, images["v2"])
    node, menu = node_of(disk)
    assert grub_would_boot(node, menu) == f"{PRODUCT} 1.0-1"
    assert "--id backup" not in menu  # the half-written slot is on no menu entry
    assert node.slot(NEXT) is not None and read_version(node.slot(NEXT).device) is None


def test_a_failed_step_is_one_sentence_naming_the_step_and_the_log(tmp_path, capsys):
    from ovirt_node_setup.cli import EXIT_FAILED, ArgumentParser, common_arguments, run

    parser = ArgumentParser(prog="demo")
    common_arguments(parser)

    def body(_args):
        raise StepFailed(3, "Copy the image", "Input/output error")

    log = tmp_path / "demo.log"
    assert run("demo", parser, body, ["--log", str(log)]) == EXIT_FAILED
    assert capsys.readouterr().err == (
        f"demo: Step 3 (Copy the image) failed: Input/output error; details are in {log}\n")


# -- booting an upgraded disk ----------------------------------------------------------------------

@pytest.mark.slow
def test_an_upgraded_disk_boots_the_new_image_which_confirms_its_trial(tmp_path):
    from tools import refimage, vm

    old, new = refimage.build(), refimage.build(version="1.1", release="2")
    disk = installed_disk(tmp_path / "node.img", old.path,
                          "hostname=up2.example.com ovirt.test_poweroff")
    result = upgrade(disk, new.path)
    assert result.returncode == 0, result.stderr

    booted = vm.boot(disk, expect=r"system up, hostname \S+", timeout=150, wait_exit=True)
    assert booted.matched, booted.describe()
    assert "booted oVirt Node Reference 1.1-2 from slot Root" in booted.transcript
    assert "hostname up2.example.com" in booted.transcript  # /config survived the upgrade
    node, _ = node_of(disk)
    assert node.trial == ""  # the new image came up and said so: no fallback any more
    assert images_by_label(node) == {ROOT: f"{PRODUCT} 1.1-2",
                                     BACKUP: f"{PRODUCT} {old.version}-{old.release}"}


def test_a_slot_in_use_is_never_the_one_overwritten(disk, images, monkeypatch):
    from installer.image import ImageSource

    with ImageSource.open(str(images["v2"])) as source, \
            node_upgrade.opened_node(str(disk)) as node:
        target = node.other_slot(node.keep_slot()[0])
        monkeypatch.setattr(node_upgrade, "_mounted_devices",
                            lambda: {os.path.realpath(target.device)})
        with pytest.raises(ValidationError, match=r"is in use \(mounted; the running image"):
            node_upgrade.prepare(node, source, shown=str(disk))


def test_a_disk_whose_upgrade_stopped_between_the_renames_keeps_the_backup():
    from installer.slots import Slot

    backup = Slot(BACKUP, "/dev/x3", GiB, ImageInfo(PRODUCT, "1.0", "1", 0))
    half = Slot(NEXT, "/dev/x4", GiB, ImageInfo(PRODUCT, "1.1", "1", 0))
    node = NodeDisk("/dev/x", "/dev/x2", (backup, half), "")
    assert node.keep_slot() == (backup, backup.image)
    assert node.other_slot(backup) == half


def test_an_image_file_without_a_node_is_named_as_given(tmp_path, images):
    empty = tmp_path / "blank.img"
    with open(empty, "wb") as handle:
        handle.truncate(64 * MiB)
    result = upgrade(empty, images["v2"])
    assert result.returncode == 2
    assert result.stderr.startswith(f"ovirt-node-upgrade: {empty} holds no installed node")


def test_a_failed_command_is_one_sentence_not_an_unexpected_error(tmp_path, capsys):
    from installer.commands import CommandFailed
    from ovirt_node_setup.cli import EXIT_FAILED, ArgumentParser, common_arguments, run

    parser = ArgumentParser(prog="demo")
    common_arguments(parser)

    def body(_args):
        raise CommandFailed("mount exited with status 32: wrong fs type.")

    log = tmp_path / "demo.log"
    assert run("demo", parser, body, ["--log", str(log)]) == EXIT_FAILED
    assert capsys.readouterr().err == (
        f"demo: mount exited with status 32: wrong fs type; details are in {log}\n")


def test_the_setup_console_shows_both_slots_images(disk, images, tmp_path):
    """Status names the node's proven image and the other slot's, read from the disk file;
    until its trial boot passes, the new image is the other one (as for an upgrade)."""
    from ovirt_node_setup.node import Node
    from ovirt_node_setup.real_console import RealConsole

    assert upgrade(disk, images["v2"]).returncode == 0
    (tmp_path / "root" / "etc").mkdir(parents=True)
    backend = RealConsole(Node(str(tmp_path / "root")), disk=str(disk))
    assert backend.images() == (f"{PRODUCT} 1.0-1", f"{PRODUCT} 1.1-1")
