"""Partition tables and filesystems on real loop devices (sparse files, nothing mocked).

Each table is read back twice: with pyparted (``read_table``) and independently with
``sfdisk --json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from installer import filesystems, loopdev, partition
from installer.layout import Layout, plan_layout
from installer.machine import Disk
from installer.plan import InstallPlan
from ovirt_node_setup.errors import ValidationError

MiB = 1 << 20
GiB = 1 << 30
SECTOR = 512
GRAIN = MiB // SECTOR  # 2048 sectors

GUID = {
    "bios_boot": "21686148-6449-6E6F-744E-656564454649",
    "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "lvm": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
}

SIZES_MB = {"efi_mb": 100, "root_mb": 512, "config_mb": 8, "swap_mb": 64, "logging_mb": 64}


def small_plan() -> InstallPlan:
    plan = InstallPlan()
    for name, value in SIZES_MB.items():
        plan.settings.set(name, str(value))
    return plan


def layout_for(device: str, size: int, *, flash: bool) -> Layout:
    disk = Disk(path=device, size_bytes=size, bus="usb" if flash else "ata",
                rotational=not flash, removable=flash)
    return plan_layout(small_plan(), disk, image_bytes=100 * MiB, memory_mb=512)


def sfdisk(device: str) -> dict:
    out = subprocess.run(["sfdisk", "--json", device], check=True, capture_output=True).stdout
    return json.loads(out)["partitiontable"]


def backing_file(device: str) -> str:
    name = os.path.basename(device)
    with open(f"/sys/block/{name}/loop/backing_file", encoding="utf-8") as handle:
        return handle.read().strip()


def file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def check_table(device: str, layout: Layout, nodes: list[str]) -> list[partition.PartitionInfo]:
    """Everything the layout promised, checked through pyparted and through sfdisk."""
    specs = layout.partitions
    assert nodes == [f"{device}p{n}" for n in range(1, len(specs) + 1)]
    assert all(os.path.exists(node) for node in nodes)

    table = partition.read_table(device)
    assert [p.name for p in table] == [s.name for s in specs]
    assert [p.number for p in table] == list(range(1, len(specs) + 1))
    for info, spec in zip(table, specs):
        assert info.start % GRAIN == 0, info
        if spec.size_bytes is not None:
            assert info.size_bytes == spec.size_bytes, info
    expected_flags = {"bios_boot": ("bios_grub",), "esp": ("boot", "esp"), "hostvg": ("lvm",)}
    assert [p.flags for p in table] == [expected_flags.get(s.role, ()) for s in specs]
    for before, after in zip(table, table[1:]):
        assert after.start == before.end + 1  # no gaps: 1 MiB multiples stay aligned

    independent = sfdisk(device)
    assert independent["label"] == "gpt"
    parts = independent["partitions"]
    assert [p["name"] for p in parts] == [s.name for s in specs]
    assert [p["node"] for p in parts] == nodes
    assert [p["start"] for p in parts] == [p.start for p in table]
    assert [p["size"] for p in parts] == [p.length for p in table]
    kinds = {"bios_boot": "bios_boot", "esp": "esp", "hostvg": "lvm"}
    assert [p["type"] for p in parts] == [GUID[kinds.get(s.role, "linux")] for s in specs]
    assert table[0].start == GRAIN
    return table


def test_flash_layout_round_trip(loop_disk) -> None:
    size = 2 * GiB
    device = loop_disk(size)
    layout = layout_for(device, size, flash=True)
    assert layout.kind == "flash"

    nodes = partition.write_table(device, layout)

    table = check_table(device, layout, nodes)
    assert [p.name for p in table] == ["BIOS boot", "EFI", "Root", "RootBackup", "CONFIG"]
    assert "HostVG" not in [p["name"] for p in sfdisk(device)["partitions"]]


def test_hdd_layout_round_trip_hostvg_fills_the_rest(loop_disk) -> None:
    size = 2 * GiB
    device = loop_disk(size)
    layout = layout_for(device, size, flash=False)
    assert layout.kind == "hdd"

    nodes = partition.write_table(device, layout)

    table = check_table(device, layout, nodes)
    hostvg = table[-1]
    assert hostvg.name == "HostVG"
    last_usable = sfdisk(device)["lastlba"]
    assert hostvg.end == (last_usable + 1) // GRAIN * GRAIN - 1  # the last aligned sector
    assert hostvg.size_bytes == size - sum(p.size_bytes for p in table[:-1]) - 2 * MiB


def test_filesystems_and_labels_read_back(loop_disk) -> None:
    size = 2 * GiB
    device = loop_disk(size)
    layout = layout_for(device, size, flash=False)
    nodes = partition.write_table(device, layout)

    for spec, node in zip(layout.partitions, nodes):
        if spec.fs:
            filesystems.make(node, spec.fs, spec.label)

    labels = {spec.name: filesystems.label_of(node) for spec, node in zip(layout.partitions, nodes)}
    assert labels == {"BIOS boot": None, "EFI": "EFI", "Root": "Root",
                      "RootBackup": "RootBackup", "CONFIG": "CONFIG", "HostVG": None}
    types = [filesystems.type_of(node) for node in nodes]
    assert types == [None, "vfat", "ext4", "ext4", "ext4", None]
    fat = subprocess.run(["blkid", "-p", "-o", "value", "-s", "VERSION", nodes[1]],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert fat == "FAT32"


def test_a_disk_that_was_not_selected_stays_unchanged(loop_disk) -> None:
    size = 2 * GiB
    chosen = loop_disk(size, "chosen.img")
    other = loop_disk(64 * MiB, "other.img")
    with open(backing_file(other), "r+b") as handle:  # something worth keeping on it
        for offset in (0, 512, 33 * MiB, 64 * MiB - 4096):
            handle.seek(offset)
            handle.write(os.urandom(4096))
    before = file_hash(backing_file(other))

    partition.wipe(chosen)
    layout = layout_for(chosen, size, flash=False)
    nodes = partition.write_table(chosen, layout)
    for spec, node in zip(layout.partitions, nodes):
        if spec.fs:
            filesystems.make(node, spec.fs, spec.label)

    assert file_hash(backing_file(other)) == before
    assert partition.read_table(other) == []


def test_wipe_removes_an_old_root_label(loop_disk) -> None:
    size = 2 * GiB
    device = loop_disk(size)
    layout = layout_for(device, size, flash=True)
    nodes = partition.write_table(device, layout)
    filesystems.make(nodes[2], "ext4", "Root")
    assert filesystems.label_of(nodes[2]) == "Root"
    root = partition.read_table(device)[2]

    partition.wipe(device)

    assert partition.read_table(device) == []
    assert not any(os.path.exists(node) for node in nodes)
    with open(backing_file(device), "rb") as handle:  # no ext4 magic left where Root was
        handle.seek(root.start * SECTOR + 1024 + 0x38)
        assert handle.read(2) != b"\x53\xef"
    blkid = subprocess.run(["blkid", "-p", device], capture_output=True)
    assert blkid.returncode == 2  # nothing at all on the disk


def test_a_new_table_never_inherits_an_old_label(loop_disk) -> None:
    """Even without a wipe: a partition created over an old filesystem starts clean."""
    size = 2 * GiB
    device = loop_disk(size)
    nodes = partition.write_table(device, layout_for(device, size, flash=False))
    for node in nodes[2:5]:
        filesystems.make(node, "ext4", "Root")

    nodes = partition.write_table(device, layout_for(device, size, flash=False))

    assert [filesystems.label_of(node) for node in nodes] == [None] * len(nodes)


def test_too_small_a_disk_is_refused_before_anything_is_written(loop_disk) -> None:
    size = 1 * GiB
    device = loop_disk(size)
    marker = os.urandom(MiB)
    path = backing_file(device)
    with open(path, "r+b") as handle:
        handle.write(marker)
        handle.seek(size - MiB)
        handle.write(marker)

    with pytest.raises(ValidationError, match="too small") as refused:
        layout_for(device, size, flash=True)  # the layout knows the disk's size
    assert "needs" in str(refused.value) and "1.0 GiB" in str(refused.value)

    lying = layout_for(device, 4 * GiB, flash=True)  # a layout made for a bigger disk
    with pytest.raises(ValidationError, match="too small") as refused:
        partition.write_table(device, lying)
    assert "needs 1135 MiB, the disk has 1024 MiB" in str(refused.value)

    with open(path, "rb") as handle:
        assert handle.read(MiB) == marker
        handle.seek(size - MiB)
        assert handle.read(MiB) == marker


def test_read_table_of_a_blank_disk_is_empty(loop_disk) -> None:
    assert partition.read_table(loop_disk(8 * MiB)) == []


def test_a_reused_loop_device_is_seen_at_its_new_size(tmp_path) -> None:
    """libparted caches devices by path; a loop device reattached to a bigger file must
    not be partitioned with the old size."""
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    small, bigger = tmp_path / "small.img", tmp_path / "bigger.img"
    for path, size in ((small, 1536 * MiB), (bigger, 2 * GiB)):
        with open(path, "wb") as handle:
            handle.truncate(size)
    device = loopdev.attach(str(small))
    try:
        assert partition.read_table(device) == []  # libparted has seen it at 1.5 GiB
    finally:
        loopdev.detach(device)
    reattach = subprocess.run(["losetup", "--partscan", device, str(bigger)],
                              capture_output=True)
    if reattach.returncode != 0:
        pytest.skip(f"{device} was taken by someone else in the meantime")
    try:
        partition.write_table(device, layout_for(device, 2 * GiB, flash=False))
        hostvg = partition.read_table(device)[-1]
        assert hostvg.end > 1536 * MiB // SECTOR  # the table spans the new size
        assert sfdisk(device)["lastlba"] == 2 * GiB // SECTOR - 34
    finally:
        loopdev.detach(device)


@pytest.mark.parametrize(("size_mb", "version"), [(64, "FAT32"), (20, "FAT16"), (4, "FAT16")])
def test_vfat_uses_fat32_when_it_fits(loop_disk, size_mb, version) -> None:
    device = loop_disk(size_mb * MiB)
    filesystems.make(device, "vfat", "efi")
    assert filesystems.label_of(device) == "EFI"
    fat = subprocess.run(["blkid", "-p", "-o", "value", "-s", "VERSION", device],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert fat == version


def test_filesystem_refusals(loop_disk) -> None:
    device = loop_disk(2 * MiB)
    with pytest.raises(ValidationError, match="too small for a FAT"):
        filesystems.make(device, "vfat", "EFI")
    with pytest.raises(ValidationError, match="does not fit"):
        filesystems.make(device, "vfat", "TWELVE_CHARS")
    with pytest.raises(ValidationError, match="use ext4, ext2 or vfat"):
        filesystems.make(device, "btrfs", "Root")
    assert filesystems.label_of(device) is None


def test_ext2_is_allowed(loop_disk) -> None:
    device = loop_disk(32 * MiB)
    filesystems.make(device, "ext2", "RootBackup")
    assert filesystems.label_of(device) == "RootBackup"
    assert filesystems.type_of(device) == "ext2"
