"""Layout sizes: what is created on a flash or an HDD target, and refusals before writing."""

import pytest

from installer.layout import MiB, auto_swap_mb, is_flash, plan_layout, space_left
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


# -- space_left: the one computation behind plan_layout and the TUI's "space left" line --

DEFAULT_FIXED = (2 + 1 + 200 + 2 * 4096 + 8) * MiB  # GPT, BIOS boot, EFI, two roots, CONFIG


def test_space_left_on_flash_counts_the_fixed_partitions_only():
    stick = disk(16 * GiB, bus="usb", removable=True, rotational=False)
    left = space_left(plan(), [stick, disk(100 * GiB)], kind="flash", image_bytes=1,
                      memory_mb=4096)
    assert left == 16 * GiB - DEFAULT_FIXED  # an extra disk adds nothing on flash


def test_space_left_on_hdd_counts_swap_logging_and_data():
    # swap auto: 4096 for 4 GiB of memory; logging 2048; data "the rest" counts 0
    assert space_left(plan(), [disk(100 * GiB)], kind="hdd", image_bytes=1,
                      memory_mb=4096) == 100 * GiB - DEFAULT_FIXED - 6144 * MiB
    assert space_left(plan(swap_mb=0, logging_mb=100, data_mb=1000), [disk(100 * GiB)],
                      kind="hdd", image_bytes=1, memory_mb=4096) == (
        100 * GiB - DEFAULT_FIXED - 1100 * MiB)


def test_space_left_counts_extra_disks_on_hdd_with_their_own_gpt():
    two = [disk(20 * GiB), disk(10 * GiB)]
    assert space_left(plan(), two, kind="hdd", image_bytes=1, memory_mb=4096) == (
        30 * GiB - DEFAULT_FIXED - 2 * MiB - 6144 * MiB)


def test_space_left_counts_the_root_slot_the_image_needs():
    small_root = plan(root_mb=512)
    assert space_left(small_root, [disk(8 * GiB)], kind="flash", image_bytes=1000 * MiB,
                      memory_mb=1024) == 8 * GiB - (2 + 1 + 200 + 8) * MiB - 2 * 1100 * MiB


def test_space_left_is_the_boot_disk_shortfall_when_the_fixed_partitions_do_not_fit():
    left = space_left(plan(), [disk(8 * GiB), disk(1024 * GiB)], kind="hdd", image_bytes=1,
                      memory_mb=4096)
    assert left == 8 * GiB - DEFAULT_FIXED < 0


@pytest.mark.parametrize("size_mb", [14546, 14547, 14548])
def test_plan_layout_and_space_left_agree(size_mb):
    # 14547 MiB is exactly what the default hdd layout needs with 4 GiB of memory
    target = disk(size_mb * MiB)
    left = space_left(plan(), [target], kind="hdd", image_bytes=500 * MiB, memory_mb=4096)
    assert left == (size_mb - 14547) * MiB
    if left >= 0:
        assert plan_layout(plan(), target, image_bytes=500 * MiB, memory_mb=4096).kind == "hdd"
    else:
        with pytest.raises(ValidationError, match="is too small"):
            plan_layout(plan(), target, image_bytes=500 * MiB, memory_mb=4096)


def test_hdd_volumes_may_use_the_extra_disks():
    boot, extra = disk(10 * GiB), Disk(path="/dev/sdy", size_bytes=10 * GiB, bus="ata")
    with pytest.raises(ValidationError, match="/dev/sdx is too small"):
        plan_layout(plan(), boot, image_bytes=1, memory_mb=4096, kind="hdd")
    layout = plan_layout(plan(), boot, image_bytes=1, memory_mb=4096, kind="hdd",
                         extra_disks=[extra])
    assert layout.disk == boot and layout.partitions[-1].name == "HostVG"


def test_extra_disks_too_small_together_are_named():
    boot, extra = disk(9 * GiB), Disk(path="/dev/sdy", size_bytes=1 * GiB, bus="ata")
    with pytest.raises(ValidationError) as caught:
        plan_layout(plan(), boot, image_bytes=1, memory_mb=4096, kind="hdd",
                    extra_disks=[extra])
    message = str(caught.value)
    assert "The disks /dev/sdx and /dev/sdy are too small together" in message
    # 8403 MiB fixed + 2 MiB GPT on /dev/sdy + 6144 MiB volumes
    assert "needs 14.2 GiB" in message and "they have 10.0 GiB" in message


def test_fixed_partitions_must_fit_on_the_boot_disk_alone():
    with pytest.raises(ValidationError) as caught:
        plan_layout(plan(), disk(8 * GiB), image_bytes=1, memory_mb=4096, kind="hdd",
                    extra_disks=[Disk(path="/dev/sdy", size_bytes=1024 * GiB, bus="ata")])
    message = str(caught.value)
    assert "/dev/sdx is too small for the boot partitions" in message
    assert "need 8.2 GiB" in message and "the disk has 8.0 GiB" in message


def test_flash_ignores_extra_disks_for_space():
    stick = disk(8 * GiB, bus="usb", removable=True, rotational=False)
    with pytest.raises(ValidationError, match="The disk /dev/sdx is too small: the flash"):
        plan_layout(plan(), stick, image_bytes=1, memory_mb=4096,
                    extra_disks=[Disk(path="/dev/sdy", size_bytes=1024 * GiB, bus="ata")])
