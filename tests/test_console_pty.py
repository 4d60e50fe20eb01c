"""The whole setup console on a real pty at 80x24, in basic mode, as on a serial line."""

from __future__ import annotations

import sys

from ovirt_node_setup import settings
from tests.pty_terminal import PtyTerminal


def console(*args: str) -> PtyTerminal:
    return PtyTerminal([sys.executable, "-m", "ovirt_node_setup.console_cli", *args])


def test_change_the_hostname_and_leave(tmp_path):
    root = tmp_path / "node"
    (root / "etc" / "default").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("localhost\n")
    log = tmp_path / "setup.log"
    term = console("--root", str(root), "--machine", "examples/machines/demo.json",
                   "--serial", "--log", str(log), "--plugins", str(tmp_path / "none"))
    try:
        term.wait_for("[Status]")
        term.wait_for("eth0 up")
        term.press("down", "enter")
        term.wait_for("DNS server 1")
        term.press(*"node7.example.com")
        term.wait_for("node7.example.com")
        term.tab_to("[ Save ]")
        term.press("enter")
        # a plain folder has no CONFIG at ROOT/config: applied, and said not persisted
        text = term.wait_for("Applied, not persisted.")
        assert "[ok]" in text and "Nothing is mounted at" in text, text
        term.press("enter")  # OK
        term.press("esc")
        term.wait_for("Log off?")
        term.tab_to("[ Log off ]")
        term.press("enter")
        assert term.finish() == 0
    finally:
        term.close()
    assert bytes(term.raw).isascii(), "a non-ASCII byte reached the serial terminal"
    assert settings.load(str(root)).network.hostname == "node7.example.com"
    assert (root / "etc" / "hostname").read_text().strip() == "node7.example.com"


def test_needs_a_terminal(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, "-m", "ovirt_node_setup.console_cli",
                             "--machine", "examples/machines/demo.json",
                             "--log", str(tmp_path / "log")],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("ovirt-node-setup: The setup console needs a terminal: "
                                     "log in on a console, or use ovirt-node-config in scripts.")


def test_rescue_shell_needs_the_password_and_the_console_comes_back(tmp_path):
    log = tmp_path / "setup.log"
    term = PtyTerminal([sys.executable, "-m", "ovirt_node_setup.console_cli",
                        "--machine", "examples/machines/installed.json", "--serial",
                        "--log", str(log), "--plugins", str(tmp_path / "none")],
                       env={"HOME": str(tmp_path)})
    try:
        term.wait_for("oVirt Node Reference 0.9-1")  # the other slot, from the description
        term.press("enter")  # open Status: the focus goes to its buttons
        term.tab_to("[ Rescue shell ]")
        term.press("enter")
        term.wait_for("Type the admin password again")
        term.press(*"node-admin", "enter")
        term.tab_to("[ Open shell ]")
        term.press("enter")
        term.wait_for("leave it with 'exit'")
        term.press(*"echo shell-$((6*7))", "enter")
        term.wait_for("shell-42")
        term.press(*"exit", "enter")
        term.wait_for("[ Rescue shell ]")
        term.press("esc")
        term.wait_for("Log off?")
        term.tab_to("[ Log off ]")
        term.press("enter")
        assert term.finish() == 0
    finally:
        term.close()
    logged = log.read_text()
    assert "rescue shell opened on /dev/pts/" in logged
    assert "rescue shell ended with status 0" in logged
    assert "node-admin" not in logged
