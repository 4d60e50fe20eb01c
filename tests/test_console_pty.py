"""The whole setup console on a real pty at 80x24, in basic mode, as on a serial line."""

from __future__ import annotations

import signal
import sys

import pytest

from ovirt_node_setup import console_cli, settings
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
        # the shell's commands get the signals back: none is ignored, Ctrl-C works
        term.press(*"awk '/SigIgn/ {print \"ignored-\" $2}' /proc/self/status", "enter")
        term.wait_for("ignored-0000000000000000")
        term.press(*"sleep 30", "enter", "\x03")
        term.press(*"echo back-$((2*3))", "enter")
        term.wait_for("back-6", timeout=5)
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


def log_off(term: PtyTerminal) -> None:
    term.press("esc")
    term.wait_for("Log off?")
    term.tab_to("[ Log off ]")
    term.press("enter")


def test_signal_keys_neither_end_nor_stop_the_console(tmp_path):
    term = console("--machine", "examples/machines/demo.json", "--serial",
                   "--log", str(tmp_path / "setup.log"), "--plugins", str(tmp_path / "none"))
    try:
        term.wait_for("[Status]")
        for key in ("\x03", "\x1c", "\x1a", "\x13"):  # Ctrl-C, Ctrl-\, Ctrl-Z, Ctrl-S
            term.press(key)
            assert term.child.isalive(), term.text()
        term.press("down")  # still drawing: not stopped, output not held by Ctrl-S
        term.wait_for("[Network]")
        log_off(term)
        assert term.finish() == 0
    finally:
        term.close()


def test_a_damaged_settings_file_still_opens_the_console(tmp_path):
    root = tmp_path / "node"
    (root / "etc" / "default").mkdir(parents=True)
    (root / "etc" / "default" / "ovirt").write_text('OVIRT_HOSTNAME="bad host!"\n')
    term = console("--root", str(root), "--machine", "examples/machines/demo.json", "--serial",
                   "--log", str(tmp_path / "setup.log"), "--plugins", str(tmp_path / "none"))
    try:
        text = term.wait_for("Settings file damaged")
        assert "The settings file cannot be read" in text, text
        term.press("enter")  # OK
        term.wait_for("eth0")  # Status shows what it can
        log_off(term)
        assert term.finish() == 0
    finally:
        term.close()
    assert "bad host!" in (root / "etc" / "default" / "ovirt").read_text()  # untouched


SLOW_SAVE = """
import sys, time
from ovirt_node_setup import console_cli
from screens.console.app import ConsoleApp
from screens.console.page import open_session
from screens.theme import Theme
from tests.console_driver import FakeConsole
from tests.test_console_app import HostPage


class Slow(FakeConsole):
    def apply(self, change, report):
        time.sleep(1.5)
        notes = super().apply(change, report)
        with open(sys.argv[1], "w") as out:
            out.write(change.settings.network.hostname)
        return notes


backend = Slow()
app = ConsoleApp(open_session(backend, Theme(basic=True)), [HostPage], product=backend.product)
sys.exit(console_cli.run_console(app))
"""


def test_a_hang_up_during_save_lets_the_save_finish(tmp_path):
    done = tmp_path / "applied"
    term = PtyTerminal([sys.executable, "-c", SLOW_SAVE, str(done)])
    try:
        term.wait_for("Host name")
        term.press("tab", *"node9")  # from the menu to the field
        term.tab_to("[ Save ]")
        term.press("enter")
        term.wait_for("Set the host name...")
        term.child.kill(signal.SIGHUP)  # the serial line drops while the change is applied
        assert term.finish() == console_cli.EXIT_HANGUP
    finally:
        term.close()
    assert done.read_text() == "node9"  # the interpreter waited for the worker


def test_the_hang_up_handler_ends_the_loop_once():
    with console_cli.console_signals():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTSTP) is signal.SIG_IGN
        with pytest.raises(SystemExit) as ended:
            console_cli.hang_up(signal.SIGHUP, None)
        assert ended.value.code == console_cli.EXIT_HANGUP
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # a second one cannot cut
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # back as before
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
