"""Machine descriptions: installed nodes, image-file disks, the dry run's image and timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from installer.layout import MiB, plan_layout, space_left
from installer.machine import Disk, ImageInfo, Simulation, load_machine
from installer.plan import InstallPlan
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.passwords import hash_password, verify_password

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples/machines").glob("*.json"))
GiB = 1024 * MiB
HASH = hash_password("node-admin")


def describe(tmp_path: Path, **top) -> str:
    path = tmp_path / "sub" / "m.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(top))
    return str(path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads(example):
    machine = load_machine(str(example))
    assert machine.disks and machine.nics and machine.path == str(example)


def test_the_examples_are_the_ones_the_readme_and_tui_rely_on():
    assert {p.name for p in EXAMPLES} >= {"demo.json", "demo-image.json", "installed.json",
                                          "tiny.json"}


def test_demo_image_is_one_image_file_with_room_for_the_hdd_layout():
    machine = load_machine(str(REPO / "examples/machines/demo-image.json"))
    (disk,) = machine.disks
    assert disk.path == disk.backing_file == str(REPO / "build/demo/disk.img")
    assert (disk.size_bytes, disk.bus, disk.rotational) == (16 * GiB, "virtio", True)
    assert (machine.memory_mb, machine.firmware) == (2048, "bios")
    assert [n.link for n in machine.nics] == [True, False]
    layout = plan_layout(InstallPlan(), disk, image_bytes=machine.image.size_bytes,
                         memory_mb=machine.memory_mb)
    assert layout.kind == "hdd"
    assert space_left(InstallPlan(), [disk], kind="hdd", image_bytes=machine.image.size_bytes,
                      memory_mb=2048) > 0


def test_installed_example_holds_an_older_node():
    machine = load_machine(str(REPO / "examples/machines/installed.json"))
    sda = machine.disks[0]
    assert sda.installed == "oVirt Node Reference 0.9-1" and sda.holds_node
    assert sda.labels == ("Root", "RootBackup", "CONFIG")
    # its admin password, for the dry run's upgrade, is named where a user sees it
    assert "its admin password is node-admin" in machine.name
    assert verify_password("node-admin", sda.admin_hash)
    assert sda.admin_hash not in repr(sda)
    assert [d.admin_hash for d in machine.disks[1:]] == ["", "", ""]


def test_tiny_example_is_too_small_for_hdd():
    machine = load_machine(str(REPO / "examples/machines/tiny.json"))
    small, stick = machine.disks
    with pytest.raises(ValidationError, match="too small"):
        plan_layout(InstallPlan(), small, image_bytes=machine.image.size_bytes,
                    memory_mb=machine.memory_mb)
    assert plan_layout(InstallPlan(), stick, image_bytes=machine.image.size_bytes,
                       memory_mb=machine.memory_mb).kind == "flash"


def test_defaults_keep_old_descriptions_working(tmp_path):
    machine = load_machine(describe(tmp_path, disks=[
        {"path": "/dev/sda", "size": "64G", "bus": "ata"}]))
    assert machine.image == ImageInfo("oVirt Node Reference", "1.0", "1", 300 * MiB)
    assert machine.image.describe() == "oVirt Node Reference 1.0-1"
    assert machine.virtualization is True
    assert machine.simulate == Simulation(8.0, 0)
    assert machine.disks[0] == Disk("/dev/sda", 64 * GiB, "ata")


def test_image_virtualization_and_simulate(tmp_path):
    machine = load_machine(describe(
        tmp_path, image={"product": "My Node", "version": "2.1", "release": "", "size": "1G"},
        virtualization=False, simulate={"seconds": 0.5, "fail_step": 3}))
    assert machine.image.describe() == "My Node 2.1"
    assert machine.image.size_bytes == GiB
    assert machine.virtualization is False
    assert machine.simulate == Simulation(0.5, 3)


def test_installed_disk_holds_a_node_with_default_labels(tmp_path):
    machine = load_machine(describe(tmp_path, disks=[
        {"path": "/dev/sda", "size": "64G", "bus": "ata", "installed": "oVirt Node 1.0-1"},
        {"path": "/dev/sdb", "size": "64G", "bus": "ata", "installed": "oVirt Node 1.0-1",
         "labels": ["Root", "CONFIG"]}]))
    first, second = machine.disks
    assert (first.installed, first.holds_node, first.labels) == (
        "oVirt Node 1.0-1", True, ("Root", "RootBackup", "CONFIG"))
    assert second.labels == ("Root", "CONFIG")


def test_image_file_disks_resolve_against_the_description_folder(tmp_path):
    path = describe(tmp_path, disks=[
        {"path": "../images/vm.img", "size": "8G", "bus": "virtio"},
        {"path": "/srv/abs.img", "size": "1G", "bus": "scsi"},
        {"path": "/dev/vda", "size": "8G", "bus": "virtio"}])
    relative, absolute, device = load_machine(path).disks
    assert relative.path == relative.backing_file == str(tmp_path / "images/vm.img")
    assert relative.describe() == f"the image file {tmp_path / 'images/vm.img'} (8.0 GiB)"
    assert absolute.path == absolute.backing_file == "/srv/abs.img"
    assert device.backing_file == ""
    assert [d.path for d in load_machine(path).image_files] == [relative.path, absolute.path]


@pytest.mark.parametrize(("top", "words"), [
    ({"disks": [{"path": "vm.img", "bus": "virtio"}]}, "disk 0 has no 'size'"),
    ({"disks": [{"path": "vm.img", "size": "1G"}]}, "disk 0 has no 'bus'"),
    ({"disks": [{"path": "vm.img", "size": "1G", "bus": "loop"}]}, "bus 'loop' is not one of"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata", "installed": 1}]},
     "disk 0: 'installed' has the wrong type"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata", "installed": "N 1-1",
                 "holds_node": False}]}, "'installed' but 'holds_node' false"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata",
                 "installed_admin_hash": HASH}]},
     "disk 0 has 'installed_admin_hash' but no 'installed'"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata", "installed": "N 1-1",
                 "installed_admin_hash": "node-admin"}]},
     "disk 0: 'installed_admin_hash' is not a SHA-512 crypt hash ($6$...)"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata", "installed": "N 1-1",
                 "installed_admin_hash": HASH[:-1]}]},
     "disk 0: 'installed_admin_hash' is not a SHA-512 crypt hash ($6$...)"),
    ({"disks": [{"path": "/dev/sda", "size": "1G", "bus": "ata", "installed": "N 1-1",
                 "installed_admin_hash": ["x"]}]},
     "disk 0: 'installed_admin_hash' has the wrong type"),
    ({"image": {"product": "X", "flavour": "y"}}, "'image' has an unknown field 'flavour'"),
    ({"image": {"size": "big"}}, "'big' is not a size"),
    ({"image": {"version": " "}}, "'image': 'version' is empty"),
    ({"image": "oVirt"}, "'image' is not an object"),
    ({"virtualization": "yes"}, "'virtualization' must be true or false"),
    ({"simulate": {"seconds": -1}}, "'seconds' must be a number"),
    ({"simulate": {"seconds": True}}, "'seconds' must be a number"),
    ({"simulate": {"fail_step": -2}}, "'fail_step' must be a step number"),
    ({"simulate": {"fail_step": 1.5}}, "'fail_step' has the wrong type"),
    ({"simulat": {}}, "the field 'simulat' is unknown"),
    ({"disks": {}}, "'disks' must be a list"),
])
def test_mistakes_are_one_sentence_naming_the_file(tmp_path, top, words):
    path = describe(tmp_path, **top)
    with pytest.raises(ValidationError) as caught:
        load_machine(path)
    message = str(caught.value)
    assert message.startswith(f"The machine description {path}: ")
    assert words in message and "\n" not in message
    assert "node-admin" not in message and HASH[:-1] not in message  # never echoed


def test_an_installed_node_may_have_an_admin_hash(tmp_path):
    machine = load_machine(describe(tmp_path, disks=[
        {"path": "/dev/sda", "size": "64G", "bus": "ata", "installed": "oVirt Node 1.0-1",
         "installed_admin_hash": HASH},
        {"path": "/dev/sdb", "size": "64G", "bus": "ata", "installed": "oVirt Node 1.0-1"}]))
    with_hash, without = machine.disks
    assert with_hash.admin_hash == HASH and without.admin_hash == ""
