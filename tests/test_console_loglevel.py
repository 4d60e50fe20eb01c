"""Tests of ovirt_node_setup.console_loglevel on a stand-in for /proc/sys/kernel/printk."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ovirt_node_setup import console_loglevel
from ovirt_node_setup.console_loglevel import quiet_kernel_console


@pytest.fixture
def printk(tmp_path: Path) -> Path:
    path = tmp_path / "printk"
    path.write_text("7\t4\t1\t7\n")
    return path


def _levels(path: Path) -> list[int]:
    return [int(field) for field in path.read_text().split()]


def test_lowered_inside_and_restored_after(printk: Path) -> None:
    with quiet_kernel_console(str(printk)):
        assert _levels(printk) == [1, 4, 1, 7]
    assert _levels(printk) == [7, 4, 1, 7]


def test_other_level(printk: Path) -> None:
    with quiet_kernel_console(str(printk), level=3):
        assert _levels(printk) == [3, 4, 1, 7]
    assert _levels(printk) == [7, 4, 1, 7]


def test_restored_after_an_exception(printk: Path) -> None:
    with pytest.raises(KeyError), quiet_kernel_console(str(printk)):
        assert _levels(printk)[0] == 1
        raise KeyError("boom")
    assert _levels(printk) == [7, 4, 1, 7]


def test_restore_keeps_other_numbers_changed_meanwhile(printk: Path) -> None:
    with quiet_kernel_console(str(printk)):
        printk.write_text("1 5 1 7\n")
    assert _levels(printk) == [7, 5, 1, 7]


@pytest.mark.parametrize("current", ["1 4 1 7\n", "0 4 1 7\n"])
def test_already_quiet_is_left_alone(printk: Path, current: str) -> None:
    printk.write_text(current)
    before = printk.stat().st_mtime_ns
    with quiet_kernel_console(str(printk)):
        assert printk.read_text() == current
    assert printk.read_text() == current
    assert printk.stat().st_mtime_ns == before


def test_missing_file_is_a_no_op(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "missing"
    with caplog.at_level(logging.INFO), quiet_kernel_console(str(path)):
        pass
    assert not path.exists()
    assert "cannot read" in caplog.text


def test_unreadable_path_is_a_no_op(tmp_path: Path) -> None:
    # A directory cannot be opened as a file, even by root.
    with quiet_kernel_console(str(tmp_path)):
        pass
    assert tmp_path.is_dir()


def test_unwritable_file_is_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Root may write any file, so refusal is simulated the way /proc refuses non-root.
    path = tmp_path / "printk"
    path.write_text("7 4 1 7\n")
    real_open = open

    def refusing_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if "w" in mode:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(console_loglevel, "open", refusing_open, raising=False)
    with caplog.at_level(logging.INFO), quiet_kernel_console(str(path)):
        pass
    assert path.read_text() == "7 4 1 7\n"
    assert "Permission denied" in caplog.text


@pytest.mark.parametrize("content", ["", "7 4 1\n", "7 4 1 7 9\n", "seven 4 1 7\n", "-1 4 1 7\n"])
def test_odd_content_is_a_no_op(printk: Path, content: str) -> None:
    printk.write_text(content)
    with quiet_kernel_console(str(printk)):
        assert printk.read_text() == content
    assert printk.read_text() == content


def test_body_errors_propagate_when_nothing_was_changed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inner"), quiet_kernel_console(str(tmp_path / "x")):
        raise ValueError("inner")
