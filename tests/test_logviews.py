"""logviews: which logs a node offers, their ends, and a sentence when one cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ovirt_node_setup import logviews
from ovirt_node_setup.node import Node

LOGS = "var/log/ovirt-node"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / LOGS).mkdir(parents=True)
    return tmp_path


@pytest.fixture
def fake_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journalctl on PATH that prints its arguments, one a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return script


def test_offline_node_lists_our_logs_and_no_journal_without_its_folder(
        root: Path, fake_journalctl: Path) -> None:
    (root / LOGS / "ovirt-node-upgrade.log").write_text("upgraded\n")
    keys = [s.key for s in logviews.sources(Node(str(root)))]
    assert keys == ["installer", "setup", "upgrade"]


def test_offline_journal_is_read_from_the_nodes_folder(root: Path, fake_journalctl: Path) -> None:
    (root / "var/log/journal").mkdir()
    node = Node(str(root))
    assert logviews.sources(node)[-1].key == "journal"
    args = logviews.read(node, "journal", limit_lines=7).splitlines()
    assert args == ["-D", str(root / "var/log/journal"), "--no-pager", "-q", "-n", "7"]


def test_live_journal_is_this_boots(root: Path, fake_journalctl: Path) -> None:
    node = Node(str(root), running=True)
    assert logviews.sources(node)[-1].title == "Journal"
    assert logviews.read(node, "journal").splitlines() == [
        "-b", "--no-pager", "-q", "-n", "2000"]


def test_failing_journalctl_is_one_sentence(root: Path, fake_journalctl: Path) -> None:
    fake_journalctl.write_text("#!/bin/sh\necho 'Failed to open journal: Bad message.' >&2\n"
                               "exit 1\n")
    text = logviews.read(Node(str(root), running=True), "journal")
    assert text == "journalctl failed with exit status 1: Failed to open journal: Bad message."


def test_read_gives_the_end_of_the_log(root: Path) -> None:
    (root / LOGS / "ovirt-node-setup.log").write_text(
        "".join(f"line {n}\n" for n in range(1, 5001)))
    text = logviews.read(Node(str(root)), "setup", limit_lines=3)
    assert text == "line 4998\nline 4999\nline 5000"


def test_a_huge_log_is_read_from_its_end_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logviews, "TAIL_BYTES", 100)
    (root / LOGS / "ovirt-node-setup.log").write_text("x" * 1000 + "\n" + "abcdefghij\n" * 20)
    text = logviews.read(Node(str(root)), "setup")
    assert text.splitlines() == ["abcdefghij"] * 9  # the cut line at the start is dropped


def test_missing_and_unreadable_logs_are_sentences(root: Path) -> None:
    node = Node(str(root))
    assert logviews.read(node, "installer") == (
        "The installer log (/var/log/ovirt-node/ovirt-node-installer.log) does not exist on "
        "this node yet.")
    (root / LOGS / "ovirt-node-setup.log").mkdir()
    assert logviews.read(node, "setup") == (
        "The setup log (/var/log/ovirt-node/ovirt-node-setup.log) could not be read: "
        "is a directory.")
    (root / LOGS / "ovirt-node-config.log").write_text("")
    assert logviews.read(node, "config").endswith("is empty.")
    assert logviews.read(node, "../../etc/shadow") == (
        "There is no log called '../../etc/shadow' to show.")


def test_a_symlinked_log_folder_stays_inside_the_root(root: Path, tmp_path: Path) -> None:
    (root / "var/log/ovirt-node").rmdir()
    (root / "var/log/ovirt-node").symlink_to("/elsewhere")
    (root / "elsewhere").mkdir()
    (root / "elsewhere/ovirt-node-setup.log").write_text("inside\n")
    assert logviews.read(Node(str(root)), "setup") == "inside"
