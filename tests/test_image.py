"""Image sources (folder and ISO) and the verified copy onto a real ext4 on a loop disk."""

from __future__ import annotations

import filecmp
import hashlib
import mmap
import os
import tempfile
from pathlib import Path

import pytest

from installer import image
from installer.commands import CommandFailed, run
from installer.image import CopyMismatch, ImageSource, copy_verified
from installer.mounts import mounted
from ovirt_node_setup.errors import ValidationError

MiB = 1 << 20
CHUNK = 64 * 1024
VERSION = 'PRODUCT="Test Node"\nVERSION="1.2"\nRELEASE="3"\n'
SIZES = {"vmlinuz0": MiB + 17, "initrd0.img": 2 * MiB, "LiveOS/squashfs.img": 5 * MiB + 4095}


def make_image(folder: Path, version: str = VERSION, skip: str | None = None) -> Path:
    (folder / "LiveOS").mkdir(parents=True)
    for rel, size in SIZES.items():
        if rel != skip:
            (folder / rel).write_bytes(os.urandom(size))
    if skip != "version":
        (folder / "version").write_text(version)
    return folder


def make_iso(folder: Path, iso: Path) -> Path:
    run(["xorriso", "-as", "mkisofs", "-o", str(iso), "-V", "TESTNODE", str(folder)])
    return iso


@pytest.fixture
def image_dir(tmp_path) -> Path:
    return make_image(tmp_path / "image")


@pytest.fixture
def slot(loop_disk, private_mounts):
    """A mounted, empty ext4 filesystem on a loop disk: the Root slot."""
    device = loop_disk(64 * MiB, "slot.img")
    run(["mkfs.ext4", "-F", "-q", "-L", "Root", device])
    with mounted(device) as mountpoint:
        yield mountpoint


def sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_copy(source: ImageSource, image_dir: Path, slot: str, hashes: dict[str, str]) -> None:
    rels = ["LiveOS/squashfs.img", "initrd0.img", "vmlinuz0", "version"]
    assert list(hashes) == rels
    for rel in rels:
        assert hashes[rel] == sha256(image_dir / rel)
        assert filecmp.cmp(image_dir / rel, os.path.join(slot, rel), shallow=False)
    left = sorted(str(p.relative_to(slot)) for p in Path(slot).rglob("*") if p.is_file())
    assert left == sorted(rels)  # no partial files
    assert source.total_bytes == sum(SIZES.values()) + len(VERSION)


def test_open_a_folder(image_dir) -> None:
    with ImageSource.open(str(image_dir)) as source:
        assert (source.product, source.version, source.release) == ("Test Node", "1.2", "3")
        assert source.describe() == "Test Node 1.2-3"
        assert source.files == [("LiveOS/squashfs.img", SIZES["LiveOS/squashfs.img"]),
                                ("initrd0.img", SIZES["initrd0.img"]),
                                ("vmlinuz0", SIZES["vmlinuz0"]), ("version", len(VERSION))]
        assert source.total_bytes == sum(size for _, size in source.files)
    assert image_dir.is_dir()  # a folder source is never removed


def test_open_an_iso_and_clean_up(image_dir, tmp_path, private_mounts) -> None:
    iso = make_iso(image_dir, tmp_path / "node.iso")
    with ImageSource.open(str(iso), workdir=str(tmp_path)) as source:
        assert source.describe() == "Test Node 1.2-3"
        root = source.root
        for rel, size in source.files:
            assert os.path.getsize(source.file_path(rel)) == size
            assert sha256(source.file_path(rel)) == sha256(image_dir / rel)
    assert not os.path.exists(root)  # the extracted copy (or the mount point) is gone


def test_copy_verified_from_a_folder(image_dir, slot, monkeypatch) -> None:
    events: list[tuple[int, int]] = []
    opened = []
    real_open = image._open_target
    monkeypatch.setattr(image, "_open_target",
                        lambda *args: opened.append(real_open(*args)) or opened[-1])
    with ImageSource.open(str(image_dir)) as source:
        hashes = copy_verified(source, slot, lambda done, total: events.append((done, total)),
                               chunk_size=CHUNK, window_size=4 * CHUNK)
        check_copy(source, image_dir, slot, hashes)
        total = 2 * source.total_bytes
    assert {t for _, t in events} == {total}
    done = [d for d, _ in events]
    assert done[0] == 0 and done[-1] == total
    assert all(b >= a for a, b in zip(done, done[1:]))  # monotonic
    assert max(b - a for a, b in zip(done, done[1:])) <= CHUNK  # no jumps
    squashfs = SIZES["LiveOS/squashfs.img"]
    assert sum(1 for d in done if 0 < d < 2 * squashfs) >= 2 * squashfs // CHUNK
    assert [direct for _, direct in opened] == [True] * 4  # ext4 takes O_DIRECT


def test_copy_verified_from_an_iso(image_dir, tmp_path, slot) -> None:
    iso = make_iso(image_dir, tmp_path / "node.iso")
    with ImageSource.open(str(iso), workdir=str(tmp_path)) as source:
        hashes = copy_verified(source, slot, lambda done, total: None)
        check_copy(source, image_dir, slot, hashes)


def test_copy_through_the_page_cache_where_o_direct_is_refused(image_dir, slot,
                                                                monkeypatch) -> None:
    monkeypatch.setattr(image, "USE_DIRECT_IO", False)
    flushed = []
    real_flush = image._flush_window
    monkeypatch.setattr(image, "_flush_window",
                        lambda fd, start, end: (flushed.append(end), real_flush(fd, start, end)))
    with ImageSource.open(str(image_dir)) as source:
        hashes = copy_verified(source, slot, lambda done, total: None,
                               chunk_size=CHUNK, window_size=8 * CHUNK)
        check_copy(source, image_dir, slot, hashes)
    assert len(flushed) >= SIZES["LiveOS/squashfs.img"] // (8 * CHUNK)


def test_the_source_is_read_once(image_dir, slot, monkeypatch) -> None:
    read = []
    real_fill = image._fill

    def counting_fill(fd, buffer):
        count = real_fill(fd, buffer)
        read.append(count)
        return count

    monkeypatch.setattr(image, "_fill", counting_fill)
    with ImageSource.open(str(image_dir)) as source:
        copy_verified(source, slot, lambda done, total: None, chunk_size=CHUNK)
        assert sum(read) == source.total_bytes


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
def test_a_read_back_that_differs_is_a_clear_error(image_dir, slot, monkeypatch,
                                                    direct) -> None:
    monkeypatch.setattr(image, "USE_DIRECT_IO", direct)
    real_read = image._read_back

    def flipping_read(fd, view, offset):
        count = real_read(fd, view, offset)
        if offset <= 3 * MiB < offset + count:
            view[3 * MiB - offset] ^= 0x01
        return count

    monkeypatch.setattr(image, "_read_back", flipping_read)
    with ImageSource.open(str(image_dir)) as source, pytest.raises(CopyMismatch) as failed:
        copy_verified(source, slot, lambda done, total: None, chunk_size=CHUNK)
    assert str(failed.value) == ("The copy of LiveOS/squashfs.img on the Root slot does not "
                                 "match the image: the disk may be failing.")
    assert not any(p.is_file() for p in Path(slot).rglob("*"))  # nothing half-copied is left


def test_bytes_corrupted_on_the_way_to_the_disk_are_caught(image_dir, slot,
                                                           monkeypatch) -> None:
    """The disk really holds a wrong byte (the hash was taken of the right one)."""
    real_write = image._write_all
    calls = []

    def corrupting_write(fd, view):
        calls.append(len(view))
        if len(calls) == 3:  # somewhere inside squashfs.img
            copy = memoryview(mmap.mmap(-1, len(view)))  # aligned, as O_DIRECT wants
            copy[:] = view
            copy[100] ^= 0x80
            view = copy
        real_write(fd, view)

    monkeypatch.setattr(image, "_write_all", corrupting_write)
    with ImageSource.open(str(image_dir)) as source, pytest.raises(CopyMismatch,
                                                                   match=r"squashfs\.img"):
        copy_verified(source, slot, lambda done, total: None, chunk_size=CHUNK, slot="RootBackup")
    assert not any(p.is_file() for p in Path(slot).rglob("*"))


def test_a_slot_without_room_is_refused_before_writing(image_dir, loop_disk,
                                                       private_mounts) -> None:
    device = loop_disk(8 * MiB, "tiny.img")
    run(["mkfs.ext4", "-F", "-q", device])
    with mounted(device) as tiny, ImageSource.open(str(image_dir)) as source:
        with pytest.raises(ValidationError, match=r"The Root slot has \d+ MiB free"):
            copy_verified(source, tiny, lambda done, total: None)
        assert os.listdir(tiny) == ["lost+found"]


@pytest.mark.parametrize("missing", ["vmlinuz0", "initrd0.img", "LiveOS/squashfs.img",
                                     "version"])
def test_a_missing_file_is_named(tmp_path, missing, private_mounts) -> None:
    folder = make_image(tmp_path / "image", skip=missing)
    with pytest.raises(ValidationError) as refused:
        ImageSource.open(str(folder))
    assert str(refused.value) == (f"The image {folder} has no {missing}: give a node image "
                                  "folder or ISO.")
    iso = make_iso(folder, tmp_path / "node.iso")
    with pytest.raises(ValidationError, match=f"The image {iso} has no {missing}:"):
        ImageSource.open(str(iso), workdir=str(tmp_path))
    assert [p for p in tmp_path.iterdir() if p.name.startswith("ovirt-node-image-")] == []


@pytest.mark.parametrize("version", [
    'PRODUCT="Test Node"\nVERSION="$(touch {marker})"\nRELEASE="3"\n',
    'PRODUCT="Test Node"\nVERSION=`touch {marker}`\nRELEASE="3"\n',
])
def test_a_version_file_is_never_run(tmp_path, version) -> None:
    marker = tmp_path / "marker"
    folder = make_image(tmp_path / "image", version=version.format(marker=marker))
    with pytest.raises(ValidationError, match="version file that cannot be read safely"):
        ImageSource.open(str(folder))
    assert not marker.exists()


def test_commands_in_a_version_file_are_ignored_not_run(tmp_path) -> None:
    marker = tmp_path / "marker"
    folder = make_image(tmp_path / "image", version=f"$(touch {marker})\n{VERSION}touch "
                                                     f"{marker}\n")
    with ImageSource.open(str(folder)) as source:
        assert source.describe() == "Test Node 1.2-3"
    assert not marker.exists()


def test_a_version_file_must_say_what_it_is(tmp_path) -> None:
    folder = make_image(tmp_path / "image", version='RELEASE="3"\n')
    with pytest.raises(ValidationError, match="does not set PRODUCT"):
        ImageSource.open(str(folder))


def test_not_an_image(tmp_path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        ImageSource.open(str(tmp_path / "nothing"))
    junk = tmp_path / "junk.iso"
    junk.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(ValidationError, match="neither a folder nor an ISO"):
        ImageSource.open(str(junk))


def test_mounted_always_unmounts(loop_disk, private_mounts, tmp_path, monkeypatch) -> None:
    device = loop_disk(16 * MiB)
    run(["mkfs.ext4", "-F", "-q", device])

    def is_mounted(path: str) -> bool:
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            return any(line.split()[1] == path for line in handle)

    with mounted(device) as where:
        Path(where, "kept").write_text("yes")
        assert is_mounted(where)
    assert not is_mounted(where) and not os.path.exists(where)

    with pytest.raises(RuntimeError, match="boom"), mounted(device, read_only=True) as where:
        assert Path(where, "kept").read_text() == "yes"
        with pytest.raises(OSError):
            Path(where, "other").write_text("no")
        raise RuntimeError("boom")
    assert not is_mounted(where) and not os.path.exists(where)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "mnt"))
    os.mkdir(tmp_path / "mnt")
    with pytest.raises(CommandFailed, match="mount failed"), mounted("/dev/null",
                                                                       fstype="ext4"):
        pass
    assert os.listdir(tmp_path / "mnt") == []  # no mount point left behind
