"""Layout sizes: what is created on a flash or an HDD target, and refusals before writing."""

import pytest

from installer.layout import MiB, auto_swap_mb, is_flash, plan_layout
from installer.machine import Disk
from installer.plan import InstallPlan
from ovirt_node_setup.errors import ValidationError

GiB = 1024 * MiB


def disk(size, **kw):
    return Disk(path="/dev/sdx", size_bytes=size, bus=kw.pop("bus", "ata"), **kw)


def plan(**sizes):
    p = InstallPlan()
    for name, value in sizes.items():
        p.settings.set(name, str(value))
    return p


def test_flash_layout_has_no_hostvg():
    stick = disk(16 * GiB, bus="usb", removable=True, rotational=False)
    assert is_flash(stick)
    layout = plan_layout(plan(), stick, image_bytes=500 * MiB, memory_mb=4096)
    assert layout.kind == "flash"
    assert [p.name for p in layout.partitions] == ["BIOS boot", "EFI", "Root", "RootBackup",
                                                   "CONFIG"]
    assert [p.size_bytes for p in layout.partitions] == [
        1 * MiB, 200 * MiB, 4096 * MiB, 4096 * MiB, 8 * MiB]
    assert [p.label for p in layout.partitions] == [None, "EFI", "Root", "RootBackup", "CONFIG"]


def test_hdd_layout_reserves_the_rest_for_hostvg():
    layout = plan_layout(plan(), disk(100 * GiB), image_bytes=500 * MiB, memory_mb=4096)
    assert layout.kind == "hdd"
    hostvg = layout.partitions[-1]
    assert (hostvg.name, hostvg.size_bytes, hostvg.flags) == ("HostVG", None, ("lvm",))


def test_layout_kind_can_be_forced():
    stick = disk(64 * GiB, bus="usb", removable=True, rotational=False)
    assert plan_layout(plan(), stick, image_bytes=1, memory_mb=1024, kind="hdd").kind == "hdd"
    assert plan_layout(plan(), disk(64 * GiB), image_bytes=1, memory_mb=1024,
                       kind="flash").kind == "flash"


def test_sizes_from_the_plan():
    layout = plan_layout(plan(root_mb=1024, efi_mb=100, config_mb=16), disk(4 * GiB, bus="usb",
                         removable=True, rotational=False), image_bytes=1, memory_mb=1024)
    assert [p.size_bytes for p in layout.partitions][1:] == [100 * MiB, 1024 * MiB, 1024 * MiB,
                                                            16 * MiB]


@pytest.mark.parametrize(("memory", "swap"), [(1024, 2048), (2048, 4096), (4096, 4096),
                                              (65536, 8192)])
def test_auto_swap(memory, swap):
    assert auto_swap_mb(memory) == swap


def test_too_small_disk_names_needed_and_available():
    with pytest.raises(ValidationError) as caught:
        plan_layout(plan(), disk(8 * GiB), image_bytes=500 * MiB, memory_mb=4096)
    message = str(caught.value)
    assert "/dev/sdx is too small" in message
    # 1 + 200 + 2 x 4096 + 8 MiB + 2 MiB GPT, swap 4096 (auto for 4 GiB), logging 2048
    assert "needs 14.2 GiB" in message and "has 8.0 GiB" in message


def test_flash_fits_where_hdd_would_not():
    small = disk(9 * GiB, bus="usb", removable=True, rotational=False)
    assert plan_layout(plan(), small, image_bytes=1, memory_mb=4096).kind == "flash"
    with pytest.raises(ValidationError, match="hdd layout"):
        plan_layout(plan(), small, image_bytes=1, memory_mb=4096, kind="hdd")


def test_image_larger_than_root_slot_is_refused():
    with pytest.raises(ValidationError, match="root slot of at least"):
        plan_layout(plan(root_mb=512), disk(100 * GiB), image_bytes=600 * MiB, memory_mb=1024)
