"""write_atomic: content, exact mode, and an untouched original on any failure."""

import os
import stat

import pytest

from ovirt_node_setup import atomicfile
from ovirt_node_setup.atomicfile import fsync_dir, write_atomic


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("mode", [0o644, 0o600])
def test_writes_content_with_mode(tmp_path, mode):
    target = tmp_path / "settings"
    write_atomic(target, 'KEY="välue"\n', mode)
    assert target.read_bytes() == 'KEY="välue"\n'.encode()
    assert _mode(target) == mode


def test_replaces_existing_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "settings"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    write_atomic(str(target), b"\x00\xffnew\n")
    assert target.read_bytes() == b"\x00\xffnew\n"
    assert _mode(target) == 0o644
    assert os.listdir(tmp_path) == ["settings"]


@pytest.mark.parametrize("umask", [0o077, 0o000, 0o027])
def test_umask_does_not_change_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a", "x", 0o644)
        write_atomic(tmp_path / "b", "x", 0o600)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a") == 0o644
    assert _mode(tmp_path / "b") == 0o600


def test_private_file_is_never_readable_by_others(tmp_path, monkeypatch):
    seen = []
    real_write = os.write

    def spying_write(fd, data):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(atomicfile.os, "write", spying_write)
    write_atomic(tmp_path / "secret", "hash\n", 0o600)
    assert seen and set(seen) == {0o600}


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_failure_leaves_original_untouched(tmp_path, monkeypatch, failing):
    target = tmp_path / "settings"
    target.write_text("old\n")

    def broken(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicfile.os, failing, broken)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["settings"]


def test_symlink_at_target_is_replaced_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep\n")
    link = tmp_path / "settings"
    link.symlink_to(elsewhere)
    write_atomic(link, "new\n")
    assert not link.is_symlink()
    assert link.read_text() == "new\n"
    assert elsewhere.read_text() == "keep\n"


def test_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "settings", "x")
    assert os.listdir(tmp_path) == []


def test_owner_is_set(tmp_path):
    target = tmp_path / "owned"
    uid, gid = (4242, 4343) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    write_atomic(target, "x", 0o640, uid=uid, gid=gid)
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, _mode(target)) == (uid, gid, 0o640)


def test_fsync_dir(tmp_path):
    fsync_dir(tmp_path)
    with pytest.raises(NotADirectoryError):
        fsync_dir(__file__)
