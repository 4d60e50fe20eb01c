"""The transaction under every change of the setup console and ``ovirt-node-config``.

The journal must put each touched file back exactly (content, mode, owner, whether it
existed, whether it was persisted and bind-mounted) before the steps' own undos run, so
that a service told again reads its old files. The persisted cases run on a real ext4
CONFIG filesystem mounted at ``ROOT/config`` in the test's own mount namespace, with the
temp root treated as a running node (bind mounts included).
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ovirt_node_setup import persistence
from ovirt_node_setup.node import Node
from ovirt_node_setup.transaction import (
    ApplyFailed,
    Event,
    ServiceAbsent,
    ServiceFailed,
    Transaction,
)
from tests.test_persistence import make_config


@pytest.fixture
def offline(tmp_path) -> Node:
    (tmp_path / "etc").mkdir()
    return Node(str(tmp_path))


@pytest.fixture
def live(tmp_path, private_mounts, loop_disk) -> Node:
    root = tmp_path / "root"
    (root / "config").mkdir(parents=True)
    (root / "etc").mkdir()
    device = make_config(loop_disk, "config.img")
    subprocess.run(["mount", device, str(root / "config")], check=True)
    return Node(str(root), running=True)


def read(node: Node, path: str) -> str:
    with open(node.path(path), encoding="utf-8") as handle:
        return handle.read()


def one_sentence(text: str) -> None:
    assert text.endswith(".") and "\n" not in text
    assert not re.search(r"[.!?] +[A-Z]", text), text


def fail(message: str = "the service said no"):
    def do() -> None:
        raise ServiceFailed(message)
    return do


def test_steps_run_in_order_and_report(offline: Node) -> None:
    events: list[Event] = []
    tx = Transaction("t", offline)
    tx.add("Write a", lambda: tx.files.write("/etc/a", "A\n"))
    tx.add("Write b", lambda: tx.files.write("/etc/sub/b", "B\n", 0o600))
    assert tx.run(events.append) == []
    assert [(e.index, e.kind) for e in events] == [(1, "start"), (1, "done"),
                                                  (2, "start"), (2, "done")]
    assert read(offline, "/etc/a") == "A\n"
    assert os.stat(offline.path("/etc/sub/b")).st_mode & 0o777 == 0o600


def test_a_failed_step_restores_every_file_then_undoes_newest_first(offline: Node) -> None:
    existing = offline.path("/etc/keep.conf")
    with open(existing, "w") as handle:
        handle.write("old\n")
    os.chmod(existing, 0o640)
    os.chown(existing, 123, 456)
    seen: list[tuple[str, str]] = []
    tx = Transaction("t", offline)
    tx.add("Write files", lambda: (tx.files.write("/etc/keep.conf", "new\n"),
                                   tx.files.write("/etc/new/deep/file", "x"),
                                   tx.files.remove("/etc/never-there")))
    # each undo sees the files as they were before the transaction
    tx.add("Tell one", lambda: None, lambda: seen.append(("one", read(offline, "/etc/keep.conf"))))
    tx.add("Tell two", lambda: None, lambda: seen.append(("two", read(offline, "/etc/keep.conf"))))
    tx.add("Tell three", fail(), lambda: seen.append(("three", "")))
    tx.add("Never run", lambda: pytest.fail("ran after the failure"))
    events: list[Event] = []
    with pytest.raises(ApplyFailed) as caught:
        tx.run(events.append)
    message = str(caught.value)
    one_sentence(message)
    assert message.startswith("Step 4 (Tell three) failed: the service said no")
    assert "nothing changed" in message
    assert seen == [("three", ""), ("two", "old\n"), ("one", "old\n")]
    st = os.stat(existing)
    assert (read(offline, "/etc/keep.conf"), st.st_mode & 0o777, st.st_uid, st.st_gid) == (
        "old\n", 0o640, 123, 456)
    assert not os.path.exists(offline.path("/etc/new"))  # folders made for it are gone
    assert [e.kind for e in events][-3:] == ["failed", "undo", "undone"]


def test_an_absent_service_is_skipped_with_its_sentence(offline: Node) -> None:
    def absent() -> None:
        raise ServiceAbsent("The hostname service is not running on this node.")
    tx = Transaction("t", offline)
    tx.add("Set the hostname", absent)
    tx.add("Write", lambda: tx.files.write("/etc/a", "A"))
    events: list[Event] = []
    assert tx.run(events.append) == ["The hostname service is not running on this node."]
    assert ("Set the hostname", "skipped") in [(e.title, e.kind) for e in events]
    assert read(offline, "/etc/a") == "A"


def test_an_undo_that_fails_is_named(offline: Node) -> None:
    def broken_undo() -> None:
        raise ServiceFailed("the service is gone")
    tx = Transaction("t", offline)
    tx.add("Tell", lambda: None, broken_undo)
    tx.add("Fail", fail())
    with pytest.raises(ApplyFailed) as caught:
        tx.run()
    one_sentence(str(caught.value))
    assert "undoing the change failed too" in str(caught.value)
    assert caught.value.undo_problems == ["undoing 'Tell' failed: the service is gone"]


def test_an_unexpected_error_is_undone_too_and_named_without_its_text(offline: Node) -> None:
    tx = Transaction("t", offline)
    tx.add("Write", lambda: tx.files.write("/etc/a", "A"))
    tx.add("Bug", lambda: {}["$6$secret-hash"])
    with pytest.raises(ApplyFailed) as caught:
        tx.run()
    message = str(caught.value)
    one_sentence(message)
    assert "an unexpected error (KeyError); details are in the log" in message
    assert "secret" not in message
    assert not os.path.exists(offline.path("/etc/a"))


def test_a_symlink_comes_back_as_a_symlink(offline: Node) -> None:
    os.symlink("/usr/share/zoneinfo/UTC", offline.path("/etc/localtime"))
    tx = Transaction("t", offline)
    tx.add("Write", lambda: tx.files.write("/etc/localtime", "TZif"))
    tx.add("Fail", fail())
    with pytest.raises(ApplyFailed):
        tx.run()
    assert os.readlink(offline.path("/etc/localtime")) == "/usr/share/zoneinfo/UTC"


def test_persisted_on_a_live_node_and_bind_mounted(live: Node) -> None:
    tx = Transaction("t", live)
    tx.add("Write", lambda: tx.files.write("/etc/hostname", "new.example.com\n"))
    tx.add("Persist", lambda: tx.files.persist("/etc/hostname"))
    tx.run()
    store = live.store
    assert persistence.persisted(store) == ["/etc/hostname"]
    assert read(live, "/config/etc/hostname") == "new.example.com\n"
    assert os.path.ismount(live.path("/etc/hostname"))
    # a second change replaces the bind-mounted file (a rename onto a mount would fail)
    tx = Transaction("t", live)
    tx.add("Write", lambda: tx.files.write("/etc/hostname", "newer.example.com\n"))
    tx.add("Persist", lambda: tx.files.persist("/etc/hostname"))
    tx.run()
    assert read(live, "/config/etc/hostname") == "newer.example.com\n"
    assert read(live, "/etc/hostname") == "newer.example.com\n"
    assert os.path.ismount(live.path("/etc/hostname"))


def test_a_failure_after_persisting_leaves_config_as_it_was(live: Node) -> None:
    with open(live.path("/etc/hostname"), "w") as handle:
        handle.write("old.example.com\n")
    persistence.persist(live.store, "/etc/hostname")
    before_records = persistence.persisted(live.store)
    tx = Transaction("t", live)
    tx.add("Write", lambda: (tx.files.write("/etc/hostname", "new.example.com\n"),
                             tx.files.write("/etc/chrony.conf", "server ntp\n")))
    tx.add("Persist", lambda: (tx.files.persist("/etc/hostname"),
                               tx.files.persist("/etc/chrony.conf")))
    tx.add("Restart", fail("chronyd did not start"))
    with pytest.raises(ApplyFailed):
        tx.run()
    assert persistence.persisted(live.store) == before_records
    assert read(live, "/config/etc/hostname") == "old.example.com\n"
    assert read(live, "/etc/hostname") == "old.example.com\n"
    assert os.path.ismount(live.path("/etc/hostname"))  # bound again, from the old copy
    assert not os.path.lexists(live.path("/config/etc/chrony.conf"))
    assert not os.path.lexists(live.path("/etc/chrony.conf"))
    assert not os.path.ismount(live.path("/etc/chrony.conf"))


def test_removing_a_persisted_file_unpersists_it(live: Node) -> None:
    with open(live.path("/etc/rsyslog-remote.conf"), "w") as handle:
        handle.write("*.* @@old:514\n")
    persistence.persist(live.store, "/etc/rsyslog-remote.conf")
    tx = Transaction("t", live)
    tx.add("Remove", lambda: tx.files.remove("/etc/rsyslog-remote.conf"))
    tx.add("Persist", lambda: tx.files.unpersist_removed("/etc/rsyslog-remote.conf"))
    tx.run()
    assert persistence.persisted(live.store) == []
    assert not os.path.lexists(live.path("/etc/rsyslog-remote.conf"))
    assert not os.path.lexists(live.path("/config/etc/rsyslog-remote.conf"))


def test_node_says_why_changes_last_until_reboot(tmp_path, live: Node) -> None:
    assert live.persist_problem() is None
    plain = Node(str(tmp_path / "plain"), running=True)
    os.makedirs(plain.path("/etc"))
    assert "last until the next reboot" in plain.persist_problem()
    os.makedirs(live.path("/etc/default"))
    with open(live.path("/etc/default/ovirt"), "w") as handle:
        handle.write('OVIRT_STATELESS="yes"\n')
    assert live.persist_problem() == persistence.STATELESS


def test_a_failure_before_the_persist_step_binds_the_old_copy_again(live: Node) -> None:
    """The write took the bind mount away; the undo must put it back, and only after the
    services' undos, which may replace their file by a rename (impossible on a mount)."""
    with open(live.path("/etc/hostname"), "w") as handle:
        handle.write("old.example.com\n")
    persistence.persist(live.store, "/etc/hostname")
    seen: list[bool] = []

    def service_rewrites_its_file() -> None:  # as hostnamed does on SetStaticHostname
        seen.append(os.path.ismount(live.path("/etc/hostname")))
        with open(live.path("/etc/.hostname.tmp"), "w") as handle:
            handle.write("old.example.com\n")
        os.rename(live.path("/etc/.hostname.tmp"), live.path("/etc/hostname"))

    tx = Transaction("t", live)
    tx.add("Write", lambda: tx.files.write("/etc/hostname", "new.example.com\n"))
    tx.add("Set the hostname", lambda: None, service_rewrites_its_file)
    tx.add("Restart", fail())
    with pytest.raises(ApplyFailed) as caught:
        tx.run()
    assert caught.value.undo_problems == []
    assert seen == [False]
    assert os.path.ismount(live.path("/etc/hostname"))
    assert read(live, "/etc/hostname") == "old.example.com\n"
    assert read(live, "/config/etc/hostname") == "old.example.com\n"


@pytest.mark.parametrize("running", [True, False])
def test_a_file_in_a_persisted_folder_is_kept_by_the_folder(live: Node, running: bool) -> None:
    node = Node(live.root, running=running)
    os.makedirs(node.path("/etc/ssh/sshd_config.d"))
    with open(node.path("/etc/ssh/sshd_config"), "w") as handle:
        handle.write("# distribution defaults\n")
    persistence.persist(node.store, "/etc/ssh")
    conf = "/etc/ssh/sshd_config.d/50-ovirt-node.conf"
    tx = Transaction("t", node)
    tx.add("Write", lambda: tx.files.write(conf, "Port 2222\n"))
    tx.add("Persist", lambda: tx.files.persist(conf))
    tx.run()
    assert persistence.persisted(node.store) == ["/etc/ssh"]
    assert read(node, "/config" + conf) == "Port 2222\n"
    # and a failed change takes it out of the folder's copy again
    tx = Transaction("t", node)
    tx.add("Write", lambda: tx.files.write(conf, "Port 2200\n"))
    tx.add("Persist", lambda: tx.files.persist(conf))
    tx.add("Restart", fail())
    with pytest.raises(ApplyFailed):
        tx.run()
    assert read(node, "/config" + conf) == "Port 2222\n"
    assert read(node, conf) == "Port 2222\n"


def test_a_replaced_file_keeps_its_extended_attributes(live: Node) -> None:
    """The SELinux label of /etc/shadow must survive a rewrite and an undo, or logins fail
    on an enforcing node; a user.* attribute stands in for it on this ext4 filesystem."""
    path = "/config/labelled"  # on the real ext4 CONFIG, which keeps extended attributes
    with open(live.path(path), "w") as handle:
        handle.write("old\n")
    os.setxattr(live.path(path), "user.label", b"shadow_t")
    tx = Transaction("t", live)
    tx.add("Write", lambda: tx.files.write(path, "new\n"))
    tx.run()
    assert os.getxattr(live.path(path), "user.label") == b"shadow_t"
    tx = Transaction("t", live)
    tx.add("Write", lambda: tx.files.write(path, "newer\n"))
    tx.add("Fail", fail())
    with pytest.raises(ApplyFailed):
        tx.run()
    assert read(live, path) == "new\n"
    assert os.getxattr(live.path(path), "user.label") == b"shadow_t"
