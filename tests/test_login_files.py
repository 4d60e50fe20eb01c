"""The admin user's login: its shell (data/ovirt-node-login-shell), the getty and first
boot units, the preset, the sysusers and sudoers files.

The login shell runs under /bin/sh with a PATH of a temp folder only, holding fakes of
the commands it may run (the console, sudo, id, tty, sleep) that record how they were
called: nothing of the host is run in their place. The units are checked with
``systemd-analyze verify`` and ``systemctl preset`` on a temp root (no running systemd
is needed), with the host's own getty units as the base the drop-in extends.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ovirt_node_setup import firstboot
from ovirt_node_setup.node import Node

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
LOGIN_SHELL = DATA / "ovirt-node-login-shell"
FIRSTBOOT_UNIT = DATA / "ovirt-node-firstboot.service"
SERIAL_DROPIN = DATA / "serial-getty@ttyS0.service.d" / "50-ovirt-node.conf"
PRESET = DATA / "ovirt-node-setup.preset"
SYSUSERS = DATA / "ovirt-node-sysusers.conf"
SUDOERS = DATA / "ovirt-node-sudoers"
HOST_UNITS = Path("/lib/systemd/system")

# A fake records: its path, pid, parent's pid, TERM, the count of its arguments and them.
RECORD = ('printf "%s\\n" "$0" "$$" "$PPID" "${TERM-unset}" "$#" "$@" '
          '> "$RECORD_DIR/${0##*/}"')


def fake(bin_dir: Path, name: str, body: str = "") -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{RECORD}\n{body}\n")
    path.chmod(0o755)


class Login:
    """Runs the login shell with only fakes on PATH; ``calls`` tells who was run how."""

    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.records = tmp_path / "records"
        self.bin.mkdir()
        self.records.mkdir()
        fake(self.bin, "ovirt-node-setup")
        fake(self.bin, "id", 'echo "${FAKE_UID:-0}"')
        fake(self.bin, "tty", 'echo "${FAKE_TTY:-/dev/tty1}"')
        fake(self.bin, "sleep")
        fake(self.bin, "sudo", 'shift 2; exec "$@"')  # -n -- COMMAND

    def run(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], int]:
        environ = {"PATH": str(self.bin), "RECORD_DIR": str(self.records), **env}
        process = subprocess.Popen(["/bin/sh", str(LOGIN_SHELL), *args], env=environ,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = process.communicate(timeout=20)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err), \
            process.pid

    def call(self, name: str) -> dict[str, object] | None:
        """How ``name`` was run: its pid, parent pid, TERM and arguments."""
        path = self.records / name
        if not path.exists():
            return None
        lines = path.read_text().splitlines()
        count = int(lines[4])
        return {"pid": int(lines[1]), "ppid": int(lines[2]), "term": lines[3],
                "args": lines[5:5 + count]}


@pytest.fixture
def login(tmp_path) -> Login:
    return Login(tmp_path)


def test_the_console_replaces_the_login_shell(login) -> None:
    done, pid = login.run(TERM="xterm")
    assert (done.returncode, done.stderr) == (0, "")
    console = login.call("ovirt-node-setup")
    assert console is not None, "the console was not started"
    # exec: the console is the very process login started, with no shell left above it
    assert console["pid"] == pid
    assert console["ppid"] == os.getpid()
    assert console["args"] == []
    assert console["term"] == "xterm"
    assert login.call("sudo") is None and login.call("sleep") is None


def test_a_user_other_than_root_runs_the_console_through_sudo(login) -> None:
    done, pid = login.run(FAKE_UID="990", TERM="xterm")
    assert done.returncode == 0, done.stderr
    sudo = login.call("sudo")
    assert sudo is not None
    assert sudo["args"] == ["-n", "--", str(login.bin / "ovirt-node-setup")]
    console = login.call("ovirt-node-setup")
    assert console is not None and console["pid"] == pid and console["ppid"] == os.getpid()


@pytest.mark.parametrize(("tty", "term", "expected"), [
    ("/dev/ttyS0", None, "vt220"),
    ("/dev/ttyS0", "linux", "vt220"),
    ("/dev/ttyS1", "dumb", "vt220"),
    ("/dev/ttyS0", "xterm-256color", "xterm-256color"),
    ("/dev/tty1", "linux", "linux"),
    ("/dev/pts/3", None, "unset"),
])
def test_term_on_a_serial_line(login, tty, term, expected) -> None:
    env = {"FAKE_TTY": tty, **({"TERM": term} if term is not None else {})}
    done, _ = login.run(**env)
    assert done.returncode == 0, done.stderr
    console = login.call("ovirt-node-setup")
    assert console is not None and console["term"] == expected


def test_without_the_console_it_says_so_and_logs_out_after_a_pause(login) -> None:
    (login.bin / "ovirt-node-setup").unlink()
    done, _ = login.run(TERM="linux")
    assert done.returncode == 1
    assert "The setup console (ovirt-node-setup) is not installed" in done.stderr
    assert "logged out in 10 seconds" in done.stderr
    sleep = login.call("sleep")
    assert sleep is not None and sleep["args"] == ["10"]


def test_without_sudo_a_user_is_logged_out(login) -> None:
    (login.bin / "sudo").unlink()
    done, _ = login.run(FAKE_UID="990")
    assert done.returncode == 1
    assert "needs sudo" in done.stderr
    assert login.call("ovirt-node-setup") is None


@pytest.mark.parametrize("args", [("-c", "id"), ("-c", "/usr/libexec/openssh/sftp-server")])
def test_commands_are_refused(login, args) -> None:
    done, _ = login.run(*args)
    assert done.returncode == 1
    assert "runs no commands" in done.stderr
    assert login.call("ovirt-node-setup") is None and login.call("id") is None


def test_the_login_shell_is_posix_sh() -> None:
    text = LOGIN_SHELL.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert os.access(LOGIN_SHELL, os.X_OK)
    assert "rescue shell" in text  # where it comes from is said where people look
    for shell in ("dash", "bash"):
        path = shutil.which(shell)
        if path:
            flags = ["--posix", "-n"] if shell == "bash" else ["-n"]
            checked = subprocess.run([path, *flags, str(LOGIN_SHELL)], capture_output=True,
                                     text=True, check=False)
            assert checked.returncode == 0, checked.stderr


def unit_lines(path: Path) -> dict[str, list[str]]:
    """KEY -> values, in order, of a unit file (all sections)."""
    values: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_the_firstboot_unit() -> None:
    unit = unit_lines(FIRSTBOOT_UNIT)
    assert unit["Type"] == ["oneshot"]
    assert unit["ConditionPathExists"] == ["!" + firstboot.MARKER]
    after = " ".join(unit["After"]).split()
    assert {"local-fs.target", "dbus.service", "NetworkManager.service",
            "systemd-sysusers.service"} <= set(after)
    before = " ".join(unit["Before"]).split()
    assert {"getty.target", "serial-getty@ttyS0.service",
            "systemd-user-sessions.service"} <= set(before)
    assert unit["ExecStart"] == ["/usr/bin/ovirt-node-config firstboot"]
    assert unit["WantedBy"] == ["multi-user.target"]


def test_the_serial_getty_runs_at_115200_8n1() -> None:
    unit = unit_lines(SERIAL_DROPIN)
    assert unit["ExecStart"][0] == ""  # the packaged command is replaced, not added to
    command = shlex.split(unit["ExecStart"][1])
    assert command[0] == "-/sbin/agetty"
    assert "-8" in command and "115200" in command and "%I" in command
    assert not [word for word in command if "," in word and word[0].isdigit()], \
        "one speed, not a list to guess from"
    assert unit["Environment"] == ["TERM=vt220"]


def test_the_admin_user_is_made_locked_with_the_login_shell(tmp_path) -> None:
    if shutil.which("systemd-sysusers") is None:
        pytest.skip("systemd-sysusers is not installed (Debian package systemd)")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    subprocess.run(["systemd-sysusers", f"--root={root}", str(SYSUSERS)], check=True,
                   capture_output=True)
    passwd = [line.split(":") for line in (root / "etc/passwd").read_text().splitlines()]
    admin = next(fields for fields in passwd if fields[0] == "admin")
    assert admin[5:] == ["/home/admin", "/usr/libexec/ovirt-node/login-shell"]
    assert firstboot.admin_locked(Node(str(root)))
    sudoers = [line for line in SUDOERS.read_text().splitlines()
               if line and not line.startswith("#")]
    assert sudoers == ['admin ALL=(root) NOPASSWD: /usr/bin/ovirt-node-setup ""']


def verify_root(tmp_path: Path) -> Path:
    """A root with the host's units plus ours, for systemd-analyze and systemctl."""
    for tool in ("systemd-analyze", "systemctl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package systemd)")
    if not (HOST_UNITS / "serial-getty@.service").is_file():
        pytest.skip(f"the host has no getty units in {HOST_UNITS} to extend")
    root = tmp_path / "root"
    units = root / "usr/lib/systemd/system"
    shutil.copytree(HOST_UNITS, units, symlinks=True)
    shutil.copy(FIRSTBOOT_UNIT, units)
    dropins = units / "serial-getty@ttyS0.service.d"
    dropins.mkdir()
    shutil.copy(SERIAL_DROPIN, dropins)
    (root / "usr/lib/systemd/system-preset").mkdir(parents=True, exist_ok=True)
    shutil.copy(PRESET, root / "usr/lib/systemd/system-preset/80-ovirt-node-setup.preset")
    for program in ("/usr/bin/ovirt-node-config", "/sbin/agetty"):
        path = root / program.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (root / "etc").mkdir()
    return root


def test_units_verify_and_the_preset_enables_them(tmp_path) -> None:
    root = verify_root(tmp_path)
    units = ["ovirt-node-firstboot.service", "serial-getty@ttyS0.service", "getty@tty1.service"]
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}",
                               *units], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    assert "ovirt-node" not in verified.stderr, verified.stderr
    preset = subprocess.run(["systemctl", f"--root={root}", "preset", *units],
                            capture_output=True, text=True, check=False)
    assert preset.returncode == 0, preset.stderr
    wants = root / "etc/systemd/system"
    assert (wants / "multi-user.target.wants/ovirt-node-firstboot.service").is_symlink()
    assert (wants / "getty.target.wants/getty@tty1.service").is_symlink()
    assert (wants / "getty.target.wants/serial-getty@ttyS0.service").is_symlink()
