"""Discovery on real loop disks, with udevd running and not, with blivet and without.

Discovery lists the host's own disks too; the tests only assert on the loop devices
they made (sparse files) and on fake sysfs trees under tmp_path. A udevd this file
starts is stopped again at the end of the test; a udevd it did not start is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from installer import discovery, loopdev
from installer.commands import run
from installer.discovery import discover_disks, discover_nics, memory_mb
from installer.machine import Disk, Nic, load_machine
from installer.plan import DiskSelector
from installer.selectors import resolve_disks
from ovirt_node_setup.errors import ValidationError

MiB = 1 << 20
UDEVD = "/lib/systemd/systemd-udevd"


# --------------------------------------------------------------------- udevd handling


def _udevd_pids() -> set[int]:
    """Live (not zombie) systemd-udevd main processes."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
        if comm == "systemd-udevd" and state != "Z":
            pids.add(int(entry))
    return pids


def _settle() -> None:
    if _udevd_pids():
        subprocess.run(["udevadm", "settle", "--timeout=10"], check=False)


@contextmanager
def udevd_running(devices: list[str]) -> Iterator[None]:
    """udevd runs inside the block, with records for ``devices``; stopped after if ours."""
    mine: set[int] = set()
    had_run_udev = os.path.exists("/run/udev")
    had_lvm_lock = os.path.exists("/run/lock/lvm")  # blivet's LVM calls make it
    if not _udevd_pids():
        if not os.access(UDEVD, os.X_OK):
            pytest.skip(f"{UDEVD} is not installed")
        before = _udevd_pids()
        subprocess.run([UDEVD, "--daemon"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        deadline = time.monotonic() + 5
        while not (mine := _udevd_pids() - before) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mine, "systemd-udevd --daemon did not start"
    try:
        names = [f"--sysname-match={os.path.basename(d)}*" for d in devices]
        subprocess.run(["udevadm", "trigger", "--action=add", "--subsystem-match=block",
                        *names], check=True, timeout=10)
        _settle()
        yield
    finally:
        for pid in mine:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while mine & _udevd_pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        if mine and not had_run_udev and not _udevd_pids():
            shutil.rmtree("/run/udev", ignore_errors=True)  # stale records would mislead
        if not had_lvm_lock:
            with contextlib.suppress(OSError):
                os.rmdir("/run/lock/lvm")
        for device in devices:  # udevd may have re-read partition tables: restore nodes
            run(["partx", "--update", device], check=False)


@pytest.fixture
def no_udevd() -> None:
    if _udevd_pids():
        pytest.skip("a udevd this test did not start is running (the host's): cannot test "
                    "discovery without udevd")


# --------------------------------------------------------------------- disks


def write_gpt(device: str, sizes_mib: list[int]) -> list[str]:
    """A GPT with one partition per size (from 1 MiB), and the partition nodes."""
    import parted

    # libparted caches devices by path: a loop number reused for another file would keep
    # the old size, and the backup GPT would go past the end. Start and end uncached.
    parted.getDevice(device).removeFromCache()
    dev = parted.getDevice(device)
    disk = parted.freshDisk(dev, "gpt")
    start = MiB // dev.sectorSize
    for size in sizes_mib:
        geometry = parted.Geometry(dev, start=start, length=size * MiB // dev.sectorSize)
        part = parted.Partition(disk=disk, type=parted.PARTITION_NORMAL, geometry=geometry)
        disk.addPartition(part, constraint=parted.Constraint(exactGeom=geometry))
        start += geometry.length
    disk.commit()
    dev.removeFromCache()
    _settle()  # a running udevd re-reads the table when the writer closes the disk
    return loopdev.wait_for_partitions(device, len(sizes_mib))


@pytest.fixture
def disks(loop_disk) -> dict[str, str]:
    """Four loop disks: blank, an installed node, one with an ESP, the live media."""
    made = {"blank": loop_disk(64 * MiB, "blank.img"),
            "node": loop_disk(128 * MiB, "node.img"),
            "efi": loop_disk(64 * MiB, "efi.img"),
            "live": loop_disk(64 * MiB, "live.img")}
    root, config = write_gpt(made["node"], [32, 16])
    run(["mkfs.ext4", "-q", "-F", "-L", "Root", root])
    run(["mkfs.ext4", "-q", "-F", "-L", "CONFIG", config])
    (esp,) = write_gpt(made["efi"], [32])
    run(["mkfs.vfat", "-n", "EFI", esp])
    (live,) = write_gpt(made["live"], [32])
    run(["mkfs.vfat", "-n", "NODE-LIVE", live])
    _settle()
    return made


def mine(found: list[Disk], made: dict[str, str]) -> dict[str, Disk]:
    by_path = {d.path: d for d in found}
    return {role: by_path[path] for role, path in made.items() if path in by_path}


def check(found: list[Disk], made: dict[str, str], *, live: bool = False) -> None:
    disks = mine(found, made)
    assert set(disks) == set(made)
    blank, node, efi, media = (disks[r] for r in ("blank", "node", "efi", "live"))
    assert [d.path for d in found if d.path in made.values()] == sorted(
        made.values(), key=lambda p: int(p.removeprefix("/dev/loop")))
    assert (blank.size_bytes, node.size_bytes, efi.size_bytes) == (64 * MiB, 128 * MiB, 64 * MiB)
    assert {d.bus for d in disks.values()} == {"loop"}
    assert (blank.partitions, blank.labels, blank.signatures, blank.holds_node) == (
        (), (), (), False)
    assert node.partitions == (f"{made['node']}p1", f"{made['node']}p2")
    assert (node.labels, node.signatures, node.holds_node) == (("Root", "CONFIG"),
                                                               ("gpt", "ext4"), True)
    assert (efi.partitions, efi.labels, efi.signatures, efi.holds_node) == (
        (f"{made['efi']}p1",), ("EFI",), ("gpt", "vfat"), False)
    assert (media.labels, media.live_media) == (("NODE-LIVE",), live)
    assert not any(d.live_media for d in (blank, node, efi))
    assert not any(d.removable for d in disks.values())


def timed(**kwargs) -> tuple[list[Disk], float]:
    started = time.monotonic()
    found = discover_disks(**kwargs)
    return found, time.monotonic() - started


def test_discovery_without_udevd(disks, no_udevd):
    with_blivet, seconds = timed(include_loop=True, cmdline="")
    check(with_blivet, disks)
    without, seconds_plain = timed(include_loop=True, cmdline="", use_blivet=False)
    assert mine(without, disks) == mine(with_blivet, disks)
    assert max(seconds, seconds_plain) < 2, (seconds, seconds_plain)
    print(f"without udevd: {seconds:.2f} s with blivet asked for, {seconds_plain:.2f} s without")


def test_discovery_with_udevd(disks, monkeypatch, caplog):
    with udevd_running(list(disks.values())):
        with_blivet, seconds = timed(include_loop=True, cmdline="")
        check(with_blivet, disks)
        without, seconds_plain = timed(include_loop=True, cmdline="", use_blivet=False)
        assert mine(without, disks) == mine(with_blivet, disks)
        # Without opening a device: udev's records alone give the same contents.
        assert mine(discover_disks(include_loop=True, cmdline="", probe=False),
                    disks) == mine(with_blivet, disks)
        # blivet failing in any way (here: not importable) only costs a log line.
        monkeypatch.setitem(sys.modules, "blivet", None)
        broken = discover_disks(include_loop=True, cmdline="")
        assert "blivet could not read the disks" in caplog.text
        assert mine(broken, disks) == mine(with_blivet, disks)
    check(discover_disks(include_loop=True, cmdline=""), disks)  # partitions still there
    assert max(seconds, seconds_plain) < 3, (seconds, seconds_plain)
    print(f"with udevd: {seconds:.2f} s with blivet, {seconds_plain:.2f} s without")


def test_loop_disks_only_when_asked_for(disks):
    paths = {d.path for d in discover_disks(cmdline="", use_blivet=False)}
    assert not paths & set(disks.values())


def test_live_media_by_label_is_refused(disks):
    found = discover_disks(include_loop=True, cmdline="quiet root=live:CDLABEL=NODE-LIVE "
                           "rd.live.image", use_blivet=False)
    check(found, disks, live=True)
    ours = [d for d in found if d.path in disks.values()]  # the host's disks stay out of it
    with pytest.raises(ValidationError, match="holds the running installation media"):
        resolve_disks([DiskSelector(text=disks["live"], path=disks["live"])], ours)
    ours.insert(0, ours.pop(ours.index(mine(found, disks)["live"])))  # live media first
    first = resolve_disks([DiskSelector(text="")], ours)
    assert first[0].path != disks["live"] and first[0].path in disks.values()


def test_live_media_by_label_escape_and_uuid(disks):
    label = discover_disks(include_loop=True, cmdline="root=live:LABEL=NODE\\x2dLIVE",
                           use_blivet=False)
    assert mine(label, disks)["live"].live_media
    uuid = run(["blkid", "-p", "-s", "UUID", "-o", "value", f"{disks['node']}p1"])
    by_uuid = discover_disks(include_loop=True, use_blivet=False,
                             cmdline=f"root=live:UUID={uuid.stdout.decode().strip()}")
    assert [r for r, d in mine(by_uuid, disks).items() if d.live_media] == ["node"]


def test_live_media_by_mount(disks, tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"{disks['efi']}p1 /run/initramfs/live vfat ro 0 0\n"
                      "overlay / overlay rw 0 0\n"
                      f"{disks['blank']} /mnt/elsewhere ext4 rw 0 0\n")
    found = discover_disks(include_loop=True, cmdline="", mounts_path=str(mounts),
                           use_blivet=False)
    assert [r for r, d in mine(found, disks).items() if d.live_media] == ["efi"]


def test_ambivalent_disk_lists_every_signature(loop_disk, tmp_path):
    ext4 = tmp_path / "ext4.img"
    with open(ext4, "wb") as handle:
        handle.truncate(8 * MiB)
    run(["mkfs.ext4", "-q", "-F", "-L", "Root", str(ext4)])
    device = loop_disk(64 * MiB, "two.img")
    run(["mkfs.vfat", "-n", "STICK", device])
    with open(ext4, "rb") as src, open(device, "r+b") as dst:  # ext4's superblock too
        src.seek(1024)
        dst.seek(1024)
        dst.write(src.read(1024))
    (disk,) = [d for d in discover_disks(include_loop=True, cmdline="", use_blivet=False)
               if d.path == device]
    assert (disk.signatures, disk.labels, disk.holds_node) == (("vfat", "ext4"),
                                                               ("STICK", "Root"), True)


def test_hostvg_marks_a_node(loop_disk, tmp_path, no_udevd):
    if not shutil.which("vgcreate"):
        pytest.skip("vgcreate (lvm2) is not installed")
    device = loop_disk(64 * MiB, "hdd.img")
    (pv,) = write_gpt(device, [32])
    conf = tmp_path / "lvm"  # a private LVM config: no backups or locks in the host's /etc
    conf.mkdir()
    (conf / "lvm.conf").write_text(
        'devices { use_devicesfile = 0 hints = "none" obtain_device_list_from_udev = 0 }\n'
        "backup { backup = 0 archive = 0 }\n"
        "activation { udev_sync = 0 udev_rules = 0 }\n"
        f'global {{ locking_dir = "{conf}" }}\n')
    env = {**os.environ, "LVM_SYSTEM_DIR": str(conf), "LVM_SUPPRESS_FD_WARNINGS": "1"}
    subprocess.run(["vgcreate", "--devices", pv, "HostVG", pv], env=env, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    for use_blivet in (True, False):
        (disk,) = [d for d in discover_disks(include_loop=True, cmdline="",
                                             use_blivet=use_blivet) if d.path == device]
        assert (disk.signatures, disk.labels, disk.holds_node) == (
            ("gpt", "LVM2_member"), (), True)


# --------------------------------------------------------------------- fake sysfs


def _tree(root: Path, files: dict[str, str], links: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)


def _block(files, links, name, devdir, *, size_mib=1024, dev="8:0", rotational=1,
           removable=0, parts=()):
    where = f"{devdir}/block/{name}"
    files.update({f"{where}/size": str(size_mib * 2048), f"{where}/dev": dev,
                  f"{where}/removable": str(removable),
                  f"{where}/queue/rotational": str(rotational),
                  f"{where}/uevent": f"MAJOR=8\nDEVNAME={name}\nDEVTYPE=disk\n"})
    for number, (part, part_dev) in enumerate(parts, 1):
        files.update({f"{where}/{part}/partition": str(number), f"{where}/{part}/dev": part_dev,
                      f"{where}/{part}/uevent": f"DEVNAME={part}\nDEVTYPE=partition\n"})
    links[f"sys/block/{name}"] = f"../{where.removeprefix('sys/')}"
    if not devdir.startswith("sys/devices/virtual"):
        links[f"{where}/device"] = "../.."


@pytest.fixture
def fake_sysfs(tmp_path) -> Path:
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    pci = "sys/devices/pci0000:00"
    ata = f"{pci}/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0"
    _block(files, links, "sda", ata, parts=[("sda1", "8:1"), ("sda2", "8:2")])
    files.update({f"{ata}/vendor": "ATA     \n", f"{ata}/model": "ST500DM002      \n"})
    (tmp_path / ata).mkdir(parents=True)
    (tmp_path / ata / "vpd_pg80").write_bytes(b"\x00\x80\x00\x08Z3T8K1AB")
    usb = f"{pci}/0000:00:14.0/usb1/1-1"
    _block(files, links, "sdb", f"{usb}/1-1:1.0/host2/target2:0:0/2:0:0:0", dev="8:16",
           rotational=0, removable=1, parts=[("sdb1", "8:17")])
    files.update({f"{usb}/idVendor": "0781\n", f"{usb}/serial": "4C530001230512117093\n",
                  f"{usb}/1-1:1.0/host2/target2:0:0/2:0:0:0/vendor": "SanDisk\n",
                  f"{usb}/1-1:1.0/host2/target2:0:0/2:0:0:0/model": "Cruzer Blade\n"})
    _block(files, links, "sdc", f"{usb}/1-1:1.0/host2/target2:0:0/2:0:0:1", dev="8:32",
           size_mib=0, removable=1)  # a card reader with no card
    vscsi = f"{pci}/0000:00:05.0/virtio3/host1/target1:0:0/1:0:0:0"
    _block(files, links, "sdaa", vscsi, dev="65:160")
    files.update({f"{vscsi}/vendor": "QEMU\n", f"{vscsi}/model": "QEMU HARDDISK\n"})
    _block(files, links, "vda", f"{pci}/0000:00:02.0/virtio1", dev="254:0")
    files["sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/serial"] = "VDSERIAL"
    for name, number in (("nvme10n1", 10), ("nvme2n1", 2)):
        ctrl = f"{pci}/0000:00:0{number % 9}.0/nvme/nvme{number}"
        _block(files, links, name, ctrl, dev=f"259:{number}", rotational=0)
        files.update({f"{ctrl}/model": f"NVMe disk {number}\n", f"{ctrl}/serial": f"NV{number}\n"})
    _block(files, links, "nvme2c2n1", f"{pci}/0000:00:02.0/nvme/nvme2", dev="259:99")
    files[f"{pci}/0000:00:02.0/nvme/nvme2/block/nvme2c2n1/hidden"] = "1"
    mmc = "sys/devices/platform/sdhci/mmc_host/mmc0/mmc0:0001"
    _block(files, links, "mmcblk0", mmc, dev="179:0", rotational=0)
    _block(files, links, "mmcblk0boot0", mmc, dev="179:8", rotational=0)
    files.update({f"{mmc}/name": "SD32G\n", f"{mmc}/serial": "0x12345678\n"})
    cdrom = f"{pci}/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0"
    _block(files, links, "sr0", cdrom, dev="11:0", removable=1, rotational=0)
    files[f"{cdrom}/type"] = "5"
    virtual = "sys/devices/virtual"
    for name in ("loop0", "loop1", "zram0", "ram0", "md0"):
        _block(files, links, name, virtual, dev="7:0")
    _block(files, links, "dm-0", virtual, dev="253:0")
    files[f"{virtual}/block/loop1/loop/backing_file"] = "/run/initramfs/live/LiveOS/disk.img\n"
    links[f"{virtual}/block/dm-0/slaves/sda2"] = "../../../../pci0000:00/0000:00:1f.2/ata1"
    _tree(tmp_path, files, links)
    return tmp_path / "sys"


@pytest.fixture
def udev_db(tmp_path) -> Iterator[str]:
    """A udev database whose control socket answers, as a running udevd's does."""
    (tmp_path / "run/udev/data").mkdir(parents=True)
    (tmp_path / "run/udev/data/b65:160").write_text(
        "S:disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi0\nE:ID_SERIAL_SHORT=drive-scsi0\n")
    (tmp_path / "run/udev/data/b8:1").write_text("E:ID_FS_TYPE=ext4\nE:ID_FS_LABEL=Root\n")
    (tmp_path / "run/udev/data/b8:0").write_text("E:ID_PART_TABLE_TYPE=gpt\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as control:
        control.bind(str(tmp_path / "run/udev/control"))
        control.listen(4)
        yield str(tmp_path / "run/udev/data")


def fake(fake_sysfs, **kwargs) -> list[Disk]:
    kwargs = {"cmdline": "", "mounts_path": "/nonexistent", "udev_db": "/nonexistent/data",
              **kwargs}
    return discover_disks(sysfs=str(fake_sysfs), probe=False, **kwargs)


def test_fake_sysfs_buses_order_and_skips(fake_sysfs, udev_db):
    found = fake(fake_sysfs, udev_db=udev_db)
    assert [(d.path, d.bus, d.serial) for d in found] == [
        ("/dev/sda", "ata", "Z3T8K1AB"),
        ("/dev/sdb", "usb", "4C530001230512117093"),
        ("/dev/sdaa", "scsi", "drive-scsi0"),
        ("/dev/vda", "virtio", "VDSERIAL"),
        ("/dev/nvme2n1", "nvme", "NV2"),
        ("/dev/nvme10n1", "nvme", "NV10"),
        ("/dev/mmcblk0", "mmc", "0x12345678"),
    ]
    sda, sdb = found[0], found[1]
    assert (sda.vendor, sda.model, sda.size_bytes, sda.rotational, sda.removable) == (
        "ATA", "ST500DM002", 1 << 30, True, False)
    assert sda.partitions == ("/dev/sda1", "/dev/sda2")
    assert (sda.labels, sda.signatures, sda.holds_node) == (("Root",), ("gpt", "ext4"), True)
    assert (sdb.vendor, sdb.model, sdb.removable, sdb.rotational) == (
        "SanDisk", "Cruzer Blade", True, False)
    assert found[6].model == "SD32G"
    assert not any(d.live_media for d in found)
    assert fake(fake_sysfs, include_loop=True)[-1].path == "/dev/loop1"  # attached only


def test_fake_sysfs_stale_udev_records_are_ignored(fake_sysfs, tmp_path):
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale/b8:1").write_text("E:ID_FS_LABEL=Root\n")  # no udevd answers
    (sda, *_) = fake(fake_sysfs, udev_db=str(tmp_path / "stale"))
    assert (sda.labels, sda.holds_node) == ((), False)


def test_fake_sysfs_live_media_from_mounts(fake_sysfs, tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sdb1 /run/initramfs/live iso9660 ro 0 0\n"
                      "/dev/root /sysroot ext4 ro 0 0\n"
                      "/dev/loop1 /run/rootfsbase squashfs ro 0 0\n")
    live = {d.path for d in fake(fake_sysfs, mounts_path=str(mounts), include_loop=True)
            if d.live_media}
    assert live == {"/dev/sdb"}
    # The root filesystem on a device-mapper device over sda2; a loop file on the live mount.
    mounts.write_text("/dev/dm-0 / ext4 rw 0 0\n"
                      "/dev/sdb1 /run/initramfs/live\\040(ro) iso9660 ro 0 0\n")
    assert {d.path for d in fake(fake_sysfs, mounts_path=str(mounts)) if d.live_media} == {
        "/dev/sda"}
    mounts.write_text("/dev/sdb1 /run/initramfs/live iso9660 ro 0 0\n/dev/loop1 / ext4 ro 0 0\n")
    live = {d.path for d in fake(fake_sysfs, mounts_path=str(mounts), include_loop=True)
            if d.live_media}
    assert live == {"/dev/sdb", "/dev/loop1"}


def test_fake_sysfs_optical_listed_only_as_live_media(fake_sysfs, tmp_path):
    assert "/dev/sr0" not in {d.path for d in fake(fake_sysfs)}
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sr0 /run/initramfs/live iso9660 ro 0 0\n")
    (cd,) = [d for d in fake(fake_sysfs, mounts_path=str(mounts)) if d.live_media]
    assert (cd.path, cd.bus, cd.removable) == ("/dev/sr0", "ata", True)
    disks = fake(fake_sysfs, mounts_path=str(mounts))
    assert resolve_disks([DiskSelector(text="")], [cd, *disks])[0].path == "/dev/sda"


# --------------------------------------------------------------------- NICs and memory


def test_nics_of_this_machine():
    nics = discover_nics()
    assert all(isinstance(n, Nic) and n.name != "lo" for n in nics)
    for nic in nics:
        assert os.path.exists(f"/sys/class/net/{nic.name}/device")
        assert len(nic.mac.split(":")) == 6


def test_nics_from_fake_sysfs(tmp_path):
    files = {}
    links = {}
    pci = "sys/devices/pci0000:00"
    for name, slot, mac, carrier, driver in (
            ("eth0", "03", "52:54:00:12:34:56", "1", "e1000e"),
            ("eth10", "04", "52:54:00:00:00:10", "0", "igb"),
            ("eth2", "05", "52:54:00:12:34:56", "1", "igb"),
            ("eth1", "06", "52:54:00:65:43:21", None, "e1000e")):
        where = f"{pci}/0000:00:{slot}.0"
        files[f"{where}/net/{name}/address"] = f"{mac.upper()}\n"
        if carrier is not None:
            files[f"{where}/net/{name}/carrier"] = f"{carrier}\n"
        links[f"{where}/net/{name}/device"] = "../.."
        links[f"{where}/driver"] = f"../../../bus/pci/drivers/{driver}"
        links[f"sys/class/net/{name}"] = f"../../devices/pci0000:00/0000:00:{slot}.0/net/{name}"
    files[f"{pci}/0000:00:05.0/net/eth2/bonding_slave/perm_hwaddr"] = "52:54:00:aa:bb:02\n"
    files["sys/bus/pci/drivers/e1000e/bind"] = ""
    files["sys/bus/pci/drivers/igb/bind"] = ""
    for name in ("lo", "br0", "bond0", "veth1a2b"):
        files[f"sys/devices/virtual/net/{name}/address"] = "52:54:00:12:34:56\n"
        files[f"sys/devices/virtual/net/{name}/carrier"] = "1\n"
        links[f"sys/class/net/{name}"] = f"../../devices/virtual/net/{name}"
    _tree(tmp_path, files, links)
    # eth1 is down: its carrier cannot be read (the kernel says EINVAL; here: a directory).
    (tmp_path / f"{pci}/0000:00:06.0/net/eth1/carrier").mkdir()
    assert discover_nics(str(tmp_path / "sys")) == [
        Nic("eth0", "52:54:00:12:34:56", "e1000e", True),
        Nic("eth1", "52:54:00:65:43:21", "e1000e", False),
        Nic("eth2", "52:54:00:aa:bb:02", "igb", True),
        Nic("eth10", "52:54:00:00:00:10", "igb", False),
    ]
    assert discover_nics(str(tmp_path / "nothing")) == []


def test_memory(tmp_path):
    assert memory_mb() > 64
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16318480 kB\nMemFree:         1234 kB\n")
    assert memory_mb(str(meminfo)) == 15936
    assert memory_mb(str(tmp_path / "missing")) == 0


# --------------------------------------------------------------------- records


def test_machine_description_takes_the_new_fields(tmp_path):
    desc = tmp_path / "m.json"
    desc.write_text(json.dumps({"disks": [{
        "path": "/dev/sda", "size": "64G", "bus": "ata", "labels": ["Root", "CONFIG"],
        "partitions": ["/dev/sda1", "/dev/sda2"], "signatures": ["gpt", "ext4"],
        "holds_node": True}]}))
    (disk,) = load_machine(str(desc)).disks
    assert (disk.labels, disk.partitions, disk.signatures, disk.holds_node) == (
        ("Root", "CONFIG"), ("/dev/sda1", "/dev/sda2"), ("gpt", "ext4"), True)
    assert disk.describe().startswith("/dev/sda (disk, 64.0 GiB, ata")
    desc.write_text(json.dumps({"disks": [{"path": "/dev/sda", "size": 1, "bus": "ata",
                                           "labels": ["Root", 3]}]}))
    with pytest.raises(ValidationError, match="list of strings"):
        load_machine(str(desc))


def test_lvm_reader_ignores_what_is_not_a_pv(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"LABELONE" + b"\0" * 4000)
    assert discovery._lvm_vg_name(str(junk)) == ""
    assert discovery._lvm_vg_name(str(tmp_path / "missing")) == ""
