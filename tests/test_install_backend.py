"""The installer backend: a dry run that touches nothing, and real installs into image files."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from installer import bootloader, loopdev, partition
from installer.image import ImageSource, copy_verified
from installer.machine import Disk, ImageInfo, load_machine
from installer.mounts import mounted
from installer.steps import StepFailed
from installer.upgrade import AlreadyInstalled
from ovirt_node_setup import bootparams, install_backend, real_backend
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.install_backend import (
    ROOT_FOR_DESCRIPTION,
    ROOT_FOR_THIS_MACHINE,
    Facts,
    SimulatedBackend,
    open_backend,
)
from ovirt_node_setup.real_backend import RealBackend, cpu_virtualization, installed_version
from tests.machines import installed_backend

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples/machines/demo.json"
INSTALLED = REPO / "examples/machines/installed.json"
GiB = 1 << 30


def quick_machine(tmp_path: Path, **simulate) -> str:
    """demo.json with a short simulation."""
    desc = json.loads(DEMO.read_text())
    desc["simulate"] = {"seconds": 0.2, **simulate}
    path = tmp_path / "quick.json"
    path.write_text(json.dumps(desc))
    return str(path)


def run_install(backend, cmdline: str, layout_kind=None):
    events = []
    result = backend.install(bootparams.parse(cmdline), layout_kind, events.append)
    return result, events


# -- the dry run ------------------------------------------------------------------------


def test_facts_of_a_description():
    backend = SimulatedBackend(load_machine(str(INSTALLED)), log_path="/tmp/x.log")
    facts = backend.facts
    assert isinstance(facts, Facts) and facts.dry_run and facts.log_path == "/tmp/x.log"
    assert facts.image.describe() == "oVirt Node Reference 1.0-1" and facts.virtualization
    assert [d.path for d in facts.targets()] == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    assert [(d.path, d.installed) for d in facts.installed_nodes()] == [
        ("/dev/sda", "oVirt Node Reference 0.9-1")]
    sda, sdb, sdc = facts.targets()
    assert (facts.layout_kind(sda), facts.layout_kind(sdc)) == ("hdd", "flash")
    plan = bootparams.parse("storage_init=/dev/sda")
    assert facts.space_left(plan, [sda]) == facts.space_left(plan, [sda], "hdd") > 400 * GiB
    assert facts.space_left(plan, [sda, sdb]) > facts.space_left(plan, [sda])
    assert not backend.can_reboot
    backend.reboot()  # does nothing


def test_simulated_install_emits_the_real_steps_in_order(tmp_path):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path)))
    started = time.monotonic()
    result, events = run_install(backend, "storage_init=/dev/sda,/dev/sdb")
    elapsed = time.monotonic() - started
    assert 0.15 < elapsed < 0.8
    assert result == ("Dry run: pretended to install oVirt Node Reference 1.0-1 on /dev/sda, "
                      "/dev/sdb (hdd layout); nothing was written.")
    count = events[0].count
    titles = [e.title for e in events if e.kind == "start"]
    assert len(titles) == count == 8
    assert titles[0] == "Erase old signatures on /dev/sda"
    assert titles[3] == "Copy oVirt Node Reference 1.0-1 to the Root slot"
    assert "Prepare /dev/sdb for HostVG" in titles
    # each step: start, maybe bytes, done; in order
    index = 0
    for event in events:
        if event.kind == "start":
            index += 1
        assert event.index == index and event.count == count
        assert event.kind in ("start", "bytes", "done")
    assert [e.index for e in events if e.kind == "done"] == list(range(1, count + 1))
    assert events[-1].kind == "done" and events[-1].title == "Flush all writes to the disks"
    copied = [e for e in events if e.kind == "bytes"]
    assert len(copied) >= 50 and {e.index for e in copied} == {4}
    assert all(a.done < b.done for a, b in zip(copied, copied[1:]))
    total = 2 * 300 * (1 << 20)
    assert copied[-1].done == copied[-1].total == total
    assert [e.total for e in events if e.kind == "start"][3] == total


def test_fail_step_fails_once_then_a_retry_succeeds(tmp_path):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path, fail_step=4)))
    events = []
    with pytest.raises(StepFailed) as caught:
        backend.install(bootparams.parse("storage_init=usb"), None, events.append)
    assert caught.value.index == 4
    assert str(caught.value) == ("Step 4 (Copy oVirt Node Reference 1.0-1 to the Root slot) "
                                 f"failed: {install_backend.SIMULATED_FAILURE}")
    assert events[-1].kind == "failed" and events[-1].index == 4
    assert events[-1].message == install_backend.SIMULATED_FAILURE
    assert not [e for e in events if e.kind == "done" and e.index == 4]
    result, again = run_install(backend, "storage_init=usb")
    assert "on /dev/sdc (flash layout)" in result
    assert again[-1].kind == "done" and not [e for e in again if e.kind == "failed"]


def test_a_failing_step_without_bytes(tmp_path):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path, fail_step=1)))
    with pytest.raises(StepFailed, match=r"^Step 1 \(Erase old signatures on /dev/sda\)"):
        run_install(backend, "storage_init")


@pytest.mark.parametrize(("cmdline", "kind", "words"), [
    ("storage_init=/dev/sdc", "hdd", "The disk /dev/sdc is too small: the hdd layout"),
    ("storage_init=/dev/sr0", None, "holds the running installation media"),
    ("storage_init=/dev/sdz", None, "no disk matches the disk /dev/sdz"),
    ("", None, "needs storage_init"),
])
def test_refusals_are_those_of_the_real_install(tmp_path, cmdline, kind, words):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path)))
    events = []
    plan = bootparams.parse(cmdline)
    with pytest.raises(ValidationError, match=words):
        backend.install(plan, kind, events.append)
    assert events == []


def test_an_installed_node_needs_reinstall(tmp_path):
    desc = json.loads(INSTALLED.read_text())
    desc["simulate"] = {"seconds": 0}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(desc))
    backend = SimulatedBackend(load_machine(str(path)))
    with pytest.raises(ValidationError, match="already holds a node"):
        run_install(backend, "storage_init=/dev/sda")
    assert "/dev/sda (hdd layout)" in run_install(backend, "storage_init=/dev/sda reinstall")[0]


def test_too_small_disk_of_the_tiny_example():
    backend = SimulatedBackend(load_machine(str(REPO / "examples/machines/tiny.json")))
    with pytest.raises(ValidationError, match="The disk /dev/sda is too small"):
        run_install(backend, "storage_init=/dev/sda")


def test_dry_run_touches_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dry run ran a command or opened the image")

    monkeypatch.setattr(real_backend, "run", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(real_backend.ImageSource, "open", refuse)
    with open_backend(quick_machine(tmp_path), None, False, None) as backend:
        assert isinstance(backend, SimulatedBackend)
        run_install(backend, "storage_init=/dev/sda")
    assert sorted(os.listdir(tmp_path)) == ["quick.json"]


# -- choosing the backend ---------------------------------------------------------------


def test_open_backend_needs_root_for_real_installs(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with open_backend(str(DEMO), None, False, None) as backend:
        assert isinstance(backend, SimulatedBackend)
    with pytest.raises(ValidationError) as caught, open_backend(str(DEMO), "/some/image",
                                                                False, None):
        pass
    assert str(caught.value) == ROOT_FOR_DESCRIPTION == (
        "--source with --machine installs for real into the description's image files, "
        "which needs root (loop devices); drop --source for a dry run.")
    with pytest.raises(ValidationError) as caught, open_backend(None, None, False, None):
        pass
    assert str(caught.value) == ROOT_FOR_THIS_MACHINE


def test_open_backend_as_root_opens_the_real_backend(monkeypatch, tmp_path):
    made = []

    class Fake:
        def __init__(self, *args):
            made.append(args)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            made.append("closed")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(real_backend, "RealBackend", Fake)
    with open_backend(str(DEMO), "/img", True, "/log") as backend:
        assert isinstance(backend, Fake)
    assert made[0][0] == "/img" and made[0][1].name.startswith("demo") and made[0][2:] == (
        True, "/log")
    with open_backend(None, None, False, None):
        pass
    assert made[2] == (None, None, False, None) and made[-1] == "closed"


def test_a_broken_description_is_reported_before_root(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValidationError, match="is not valid JSON"), open_backend(
            str(bad), "/img", False, None):
        pass


# -- facts of this machine --------------------------------------------------------------


def test_cpu_virtualization_reads_the_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu vme svm sse\n")
    assert cpu_virtualization(str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu vme vmxx sse\n")
    assert not cpu_virtualization(str(cpuinfo))
    assert not cpu_virtualization(str(tmp_path / "missing"))


# -- real installs into a description's image files (root) ------------------------------


@pytest.fixture(scope="module")
def image():
    if os.geteuid() != 0:
        pytest.skip("real installs need root: run the suite as root (CI does)")
    from tools import refimage

    return refimage.build()


def image_machine(tmp_path: Path, **disk) -> Path:
    desc = {"name": "vm", "firmware": "bios", "memory_mb": 1024,
            "disks": [{"path": "images/vm.img", "size": "2G", "bus": "virtio",
                       "rotational": False, **disk},
                      {"path": "/dev/sda", "size": "64G", "bus": "ata"}],
            "nics": [{"name": "eth0", "mac": "52:54:00:00:00:01", "link": True}]}
    path = tmp_path / "vm.json"
    path.write_text(json.dumps(desc))
    return path


def test_description_without_image_files_is_refused(tmp_path, image):
    with pytest.raises(ValidationError, match="has no image-file disk to install into"):
        RealBackend(str(image.path), load_machine(str(DEMO)))


def test_real_install_into_a_description_image_file(tmp_path, image, private_mounts):
    desc = image_machine(tmp_path)
    disk = tmp_path / "images/vm.img"
    with open_backend(str(desc), str(image.path), False, None) as backend:
        assert isinstance(backend, RealBackend) and not backend.can_reboot
        facts = backend.facts
        assert not facts.dry_run and facts.machine.memory_mb == 1024
        assert facts.image.describe() == f"oVirt Node Reference {image.version}-{image.release}"
        assert facts.image.size_bytes == backend.source.total_bytes
        assert [d.path for d in facts.targets()] == [str(disk)]  # /dev/sda is not ours
        result, events = run_install(
            backend, f"storage_init={disk} storage_vol=100::600:8 hostname=vm1", "flash")
        assert result == (f"Installed oVirt Node Reference {image.version}-{image.release} "
                          f"on {disk} (flash layout).")
    assert events[-1].kind == "done" and events[-1].title == "Flush all writes to the disks"
    assert not [e for e in events if e.kind == "failed"]
    assert disk.stat().st_size == 2 * GiB  # created, sparse
    assert disk.stat().st_blocks * 512 < GiB
    assert subprocess.run(["losetup", "--associated", str(disk)], capture_output=True,
                          text=True, check=True).stdout == ""
    with loopdev.attached(str(disk)) as device:
        loopdev.wait_for_partitions(device, 5)
        table = partition.read_table(device)
        assert [p.name for p in table] == ["BIOS boot", "EFI", "Root", "RootBackup", "CONFIG"]
        menu = subprocess.run(["mcopy", "-i", table[1].path, "::/EFI/BOOT/grub.cfg", "-"],
                              capture_output=True, check=True).stdout.decode()
        assert "console=ttyS0" in menu  # an image file is a VM's disk: serial console

    # A second backend sees what is now in the file, and refuses to overwrite it unasked.
    with open_backend(str(desc), str(image.path), False, None) as backend:
        (target,) = backend.facts.targets()
        assert target.holds_node and "Root" in target.labels
        assert target.installed == f"oVirt Node Reference {image.version}-{image.release}"
        with pytest.raises(ValidationError, match="already holds a node"):
            run_install(backend, f"storage_init={disk} storage_vol=100::600:8", "flash")


def run_command(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def test_installed_version_is_the_image_an_upgrade_keeps(tmp_path, image, private_mounts):
    desc = image_machine(tmp_path)
    disk = tmp_path / "images/vm.img"
    with open_backend(str(desc), str(image.path), False, None) as backend:
        run_install(backend, f"storage_init={disk} storage_vol=100::600:8", "flash")
    installed = f"oVirt Node Reference {image.version}-{image.release}"
    with loopdev.attached(str(disk)) as device:
        parts = tuple(loopdev.wait_for_partitions(device, 5))
        assert installed_version(Disk(device, 2 * GiB, "virtio", partitions=parts)) == installed
        # another image in Root, on trial: the version that counts is the backup's
        with mounted(parts[3]) as slot, ImageSource.open(str(image.path)) as source:
            copy_verified(source, slot, lambda done, total: None, slot="RootBackup")
        run_command(["e2label", parts[2], "RootNext"])
        run_command(["e2label", parts[3], "Root"])
        run_command(["e2label", parts[2], "RootBackup"])
        run_command(["debugfs", "-w", "-R", "rm /version", parts[3]])
        bootloader.write_env(parts[1], boot_trial="pending")
        assert installed_version(Disk(device, 2 * GiB, "virtio", partitions=parts)) == installed
        # no trial, but Root holds no complete image (an upgrade stopped halfway): the
        # backup's, which is what boots
        bootloader.write_env(parts[1], boot_trial="")
        assert installed_version(Disk(device, 2 * GiB, "virtio", partitions=parts)) == installed


# -- what the screens ask of a backend ---------------------------------------------------


def test_disk_by_path_names_the_disks_when_there_is_none(tmp_path):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path)))
    assert backend.disk_by_path("/dev/sdb").model == "WDC WD20EFRX"
    with pytest.raises(ValidationError, match=r"no disk at /dev/sdz.*/dev/sda, /dev/sdb"):
        backend.disk_by_path("/dev/sdz")
    with pytest.raises(ValidationError, match="running installation media"):
        backend.disk_by_path("/dev/sr0")


def test_dry_run_keyboard_is_listed_but_never_loaded(tmp_path, monkeypatch):
    backend = SimulatedBackend(load_machine(quick_machine(tmp_path)))
    monkeypatch.setenv("PATH", str(tmp_path))  # no loadkeys could run even if it tried
    assert "us" in [k.name for k in backend.keymaps()]
    assert "Dry run" in backend.set_keymap("de")


# -- upgrading an installed node ---------------------------------------------------------

NODE_PASSWORD = "node-admin"  # the admin password of the node in installed.json


@pytest.mark.parametrize(("installed", "image", "kind"), [
    ("oVirt Node Reference 0.9-1", ImageInfo("oVirt Node Reference", "1.0", "1"), "upgrade"),
    ("oVirt Node Reference 1.0-1", ImageInfo("oVirt Node Reference", "1.0", "2"), "upgrade"),
    ("oVirt Node Reference 1.0.9-1", ImageInfo("oVirt Node Reference", "1.0.10", "1"),
     "upgrade"),
    ("oVirt Node Reference 1.0-1", ImageInfo("oVirt Node Reference", "0.9", "7"), "downgrade"),
    ("oVirt Node Reference 1.0-2", ImageInfo("oVirt Node Reference", "1.0", "1"), "downgrade"),
    ("oVirt Node Reference 1.0-1", ImageInfo("oVirt Node Reference", "1.0", "1"), None),
    ("oVirt Node Reference 0.9-1", ImageInfo("Another Node", "1.0", "1"), None),
    ("", ImageInfo("oVirt Node Reference", "1.0", "1"), None),  # version not known
    ("garbled-", ImageInfo("oVirt Node Reference", "1.0", "1"), None),
])
def test_upgrade_kind_compares_product_and_version(installed, image, kind):
    machine = load_machine(str(INSTALLED))
    facts = Facts(machine, image, True, dry_run=True)
    disk = Disk("/dev/sda", 64 * GiB, "ata", holds_node=True, installed=installed)
    assert facts.upgrade_kind(disk) == kind


def test_upgrade_kind_of_the_installed_example():
    facts = SimulatedBackend(load_machine(str(INSTALLED))).facts
    sda, sdb, sdc = facts.targets()
    assert facts.upgrade_kind(sda) == "upgrade"  # 0.9-1 installed, the image is 1.0-1
    assert facts.upgrade_kind(sdb) is None and facts.upgrade_kind(sdc) is None


def test_simulated_upgrade_emits_the_upgrade_steps(tmp_path):
    backend = installed_backend(tmp_path)
    (sda, *_) = backend.facts.installed_nodes()
    events = []
    started = time.monotonic()
    result = backend.upgrade(sda, events.append)
    assert 0.15 < time.monotonic() - started < 0.8
    assert result == ("Dry run: pretended to upgrade oVirt Node Reference 0.9-1 on /dev/sda "
                      "to 1.0-1 (0.9-1 stays as the backup image); nothing was written.")
    titles = [e.title for e in events if e.kind == "start"]
    assert titles == [
        "Keep oVirt Node Reference 0.9-1 as the current image and retire the unused slot",
        "Make a fresh filesystem on the slot /dev/sda4",
        "Copy oVirt Node Reference 1.0-1 to the new slot",
        "Write the boot menu: oVirt Node Reference 1.0-1 on trial, oVirt Node Reference "
        "0.9-1 as BACKUP",
        "Swap the slot labels",
        "Flush all writes to /dev/sda",
    ]
    assert {e.count for e in events} == {6}
    assert [e.index for e in events if e.kind == "done"] == list(range(1, 7))
    copied = [e for e in events if e.kind == "bytes"]
    assert len(copied) >= 50 and {e.index for e in copied} == {3}
    assert copied[-1].done == copied[-1].total == 2 * 300 * (1 << 20)
    assert not [e for e in events if e.kind == "failed"]


def test_simulated_downgrade_is_allowed(tmp_path):
    backend = installed_backend(tmp_path, image={"version": "0.8", "release": "3"})
    sda = backend.facts.installed_nodes()[0]
    assert backend.facts.upgrade_kind(sda) == "downgrade"
    result = backend.upgrade(sda, lambda event: None)
    assert result.startswith("Dry run: pretended to downgrade oVirt Node Reference 0.9-1 on "
                             "/dev/sda to 0.8-3 (0.9-1 stays as the backup image)")


@pytest.mark.parametrize(("image", "sda", "disk", "error", "words"), [
    ({"version": "0.9"}, {}, "/dev/sda", AlreadyInstalled,
     "/dev/sda already runs oVirt Node Reference 0.9-1: nothing to upgrade"),
    ({"product": "Another Node"}, {}, "/dev/sda", ValidationError,
     "an upgrade keeps the product; reinstall to change it"),
    ({}, {"installed": None, "installed_admin_hash": None, "holds_node": True}, "/dev/sda",
     ValidationError, "holds no readable image to keep: reinstall the node instead"),
    ({"size": "5G"}, {}, "/dev/sda", ValidationError,
     "needs a slot of 5.5 GiB, but the slots of /dev/sda have 4.0 GiB"),
    ({}, {}, "/dev/sdb", ValidationError,
     "/dev/sdb holds no installed node .*: install one instead of upgrading"),
])
def test_simulated_upgrade_refuses_what_the_real_one_refuses(tmp_path, image, sda, disk,
                                                              error, words):
    backend = installed_backend(tmp_path, image=image, **sda)
    events = []
    with pytest.raises(error, match=words):
        backend.upgrade(backend.facts.find_disk(disk), events.append)
    assert events == []


def test_fail_step_fails_an_upgrade_once(tmp_path):
    backend = installed_backend(tmp_path, fail_step=3)
    sda = backend.facts.installed_nodes()[0]
    events = []
    with pytest.raises(StepFailed) as caught:
        backend.upgrade(sda, events.append)
    assert str(caught.value) == ("Step 3 (Copy oVirt Node Reference 1.0-1 to the new slot) "
                                 f"failed: {install_backend.SIMULATED_FAILURE}")
    assert events[-1].kind == "failed" and events[-1].index == 3
    again = []
    assert backend.upgrade(sda, again.append).startswith("Dry run: pretended to upgrade")
    assert not [e for e in again if e.kind == "failed"]


def test_admin_password_of_a_described_node(tmp_path):
    backend = SimulatedBackend(load_machine(str(INSTALLED)))
    sda, sdb, _ = backend.facts.targets()
    assert backend.has_admin_password(sda)
    assert backend.check_admin_password(sda, NODE_PASSWORD)
    assert not backend.check_admin_password(sda, NODE_PASSWORD.upper())
    assert not backend.check_admin_password(sda, "")
    with pytest.raises(ValidationError, match="/dev/sdb holds no installed node"):
        backend.has_admin_password(sdb)
    with pytest.raises(ValidationError, match="/dev/sdb holds no installed node"):
        backend.check_admin_password(sdb, NODE_PASSWORD)
    bare = installed_backend(tmp_path, installed_admin_hash=None)
    sda = bare.facts.installed_nodes()[0]
    assert not bare.has_admin_password(sda)
    assert not bare.check_admin_password(sda, NODE_PASSWORD)


def test_dry_run_upgrade_touches_nothing(tmp_path, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise AssertionError("the dry run ran a command")

    caplog.set_level("DEBUG")
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    backend = installed_backend(tmp_path)
    sda = backend.facts.installed_nodes()[0]
    assert backend.check_admin_password(sda, NODE_PASSWORD)
    backend.upgrade(sda, lambda event: None)
    assert sorted(os.listdir(tmp_path)) == ["installed.json"]
    assert NODE_PASSWORD not in caplog.text and sda.admin_hash not in caplog.text
