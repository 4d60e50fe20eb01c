"""``ovirt-node-installer --explain`` run as a user runs it: the installed command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ovirt_node_setup import bootparams

REPO = Path(__file__).resolve().parent.parent
COMMAND = Path(sys.executable).parent / "ovirt-node-installer"
DEMO = REPO / "examples/machines/demo.json"
SHA512 = ("$6$8Jk2mPq1$p5K7irwef.Ljt.50EPr/shD8tFzVhsAe2CarwWb9cDXuiYH8W6xMHZgTM2NqMT5mEbmkde"
          "WaX3gP7Z2FRsf/D1")


def run(*args, check=False):
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, check=check,
                          timeout=60)


def explain(cmdline, *extra):
    result = run("--explain", "--cmdline", cmdline, *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_reference_pxe_command_line_explained():
    plan = explain(
        "BOOTIF=01-52-54-00-12-34-56 storage_init=/dev/sda storage_vol=:2048::::-1 "
        "ip=192.168.122.50 netmask=255.255.255.0 gateway=192.168.122.1 dns=192.168.122.1 "
        f"hostname=node1.example.com adminpw={SHA512} firstboot crashkernel=256M")
    assert plan["disks"][0]["path"] == "/dev/sda"
    assert plan["sizes_mb"]["swap"] == 2048 and plan["sizes_mb"]["data"] == "rest of the disk"
    assert plan["settings"]["network"]["ipv4_address"] == "192.168.122.50"
    assert plan["settings"]["network"]["bootif"] == "52:54:00:12:34:56"
    assert plan["reinstall"] is True
    assert plan["kernel_args"] == ["crashkernel=256M"]
    assert plan["unattended"] == {"ready": True, "missing": []}
    assert SHA512 not in json.dumps(plan)
    # This machine is not the one the command line was written for: said, not refused.
    assert plan["not_resolved_here"].startswith("BOOTIF: no NIC is 52:54:00:12:34:56")


def test_machine_resolves_disks_and_nic():
    plan = explain("storage_init=usb BOOTIF=link", "--machine", str(DEMO))
    assert plan["install"]["disks_to_erase"][0].startswith("/dev/sdc (SanDisk Cruzer Blade")
    assert plan["install"]["layout"] == "flash"  # a USB stick
    assert plan["management_nic"].startswith("eth0 (52:54:00:12:34:56")


def test_explain_lists_layout_and_steps_for_resolved_disks():
    plan = explain("storage_init=/dev/sda,/dev/sdb storage_vol=:4096", "--machine", str(DEMO))
    install = plan["install"]
    assert install["layout"] == "hdd"
    assert install["partitions"][-1] == "HostVG: rest of the disk"
    assert install["partitions"][2] == "Root: 4.0 GiB, ext4, label Root"
    assert install["steps"][0] == "Erase old signatures on /dev/sda"
    assert "Prepare /dev/sdb for HostVG" in install["steps"]
    assert install["steps"][-1] == "Flush all writes to the disks"


def test_explain_refuses_a_too_small_disk(tmp_path):
    desc = json.loads(DEMO.read_text())
    desc["disks"][0]["size"] = "4G"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(desc))
    result = run("--explain", "--cmdline", "storage_init=/dev/sda", "--machine", str(path))
    assert result.returncode == 2
    assert "The disk /dev/sda is too small" in result.stderr


def test_first_disk_skips_the_live_media(tmp_path):
    desc = json.loads(DEMO.read_text())
    desc["disks"].insert(0, desc["disks"].pop())  # the live CD comes first
    path = tmp_path / "m.json"
    path.write_text(json.dumps(desc))
    plan = explain("storage_init", "--machine", str(path))
    assert plan["install"]["disks_to_erase"][0].startswith("/dev/sda ")


@pytest.mark.parametrize(("cmdline", "words"), [
    ("storage_init=ata", "2 disks match the ata disk"),
    ("storage_init=/dev/sr0", "holds the running installation media"),
    ("storage_init=/dev/sdz", "no disk matches the disk /dev/sdz"),
    ("storage_init=scsi", "no disk matches the scsi disk"),
    ("storage_init=/dev/sda,ata:Z3T8K1AB", "already chosen"),
    ("BOOTIF=eth7", "no NIC is eth7"),
])
def test_machine_resolution_errors(cmdline, words):
    result = run("--explain", "--cmdline", cmdline, "--machine", str(DEMO))
    assert result.returncode == 2
    assert words in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(("cmdline", "param"), [
    ("ip=300.1.1.1", "ip"), ("ip=1.1.1.1 netmask=255.0.255.0", "netmask"), ("vlan=5000", "vlan"),
    ("hostname=-x-", "hostname"), ("storage_vol=abc", "storage_vol"),
    ("adminpw=plaintext", "adminpw"), ("ssh_pwauth=maybe", "ssh_pwauth"), ("dns=1.2.3", "dns"),
    ("stateless storage_init", "storage_init"),
])
def test_bad_values_exit_2_with_one_line(cmdline, param, tmp_path):
    log = tmp_path / "installer.log"
    result = run("--explain", "--cmdline", cmdline, "--log", str(log))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and f"Boot parameter '{param}'" in lines[0]
    assert "plaintext" not in result.stderr and "plaintext" not in log.read_text()


def test_stateless_plan_touches_no_disk():
    plan = explain("stateless ip=dhcp")
    assert plan["stateless"] is True and plan["touches_disks"] is False
    assert plan["disks"] == [] and plan["action"] == "none (stateless)"


def test_reads_proc_cmdline_by_default():
    with open("/proc/cmdline", encoding="utf-8") as handle:
        host_cmdline = handle.read().strip()
    default, explicit = run("--explain"), run("--explain", "--cmdline", host_cmdline)
    assert default.returncode in (0, 2)  # the host's own command line may be anything
    assert (default.returncode, default.stdout, default.stderr) == (
        explicit.returncode, explicit.stdout, explicit.stderr)


def test_stderr_is_redacted():
    result = run("--explain", "--cmdline", 'keyboard=us"  adminpw=hunter2 "')
    assert result.returncode == 2 and "hunter2" not in result.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--machine", "examples/machines/demo.json"], "needs a terminal"),
    (["--explain", "--cmdline", "", "--machine", "/nonexistent.json"],
     "Cannot read the machine description /nonexistent.json"),
])
def test_usage_errors_exit_2(args, words):
    result = run(*args)
    assert result.returncode == 2
    assert words in result.stderr and result.stderr.count("\n") == 1


def test_bad_machine_description(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"disks": [{"path": "/dev/sda", "size": "lots", "bus": "ata"}]}')
    result = run("--explain", "--cmdline", "", "--machine", str(path))
    assert result.returncode == 2 and "'lots' is not a size" in result.stderr


def test_help_mentions_explain():
    assert "--explain" in run("--help", check=True).stdout


def test_closed_pipe_is_not_an_error():
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    result = subprocess.run([str(COMMAND), "--explain", "--cmdline", "console=tty0 " * 8000],
                            stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=60)
    reader.stdin.close()
    reader.wait()
    assert result.stderr == ""


def test_the_screens_refuse_to_install_on_a_stateless_boot(tmp_path):
    result = run("--cmdline", "quiet stateless", "--source", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        "ovirt-node-installer: This machine was booted 'stateless': it touches no local "
        "storage, so it refuses to install; boot without 'stateless' to install.\n")
    off = run("--cmdline", "stateless stateless=no", "--source", str(tmp_path))
    assert "stateless" not in off.stderr


@pytest.mark.parametrize(("cmdline", "on"), [
    ("stateless", True), ("a stateless=yes", True), ("stateless=1", True),
    ("stateless=0", False), ("stateless stateless=off", False), ("stateless=maybe", False),
    ("statelessly", False), ("", False),
])
def test_a_switch_on_the_command_line_reads_as_early_boot_reads_it(cmdline, on):
    assert bootparams.flag_on(cmdline, "stateless") is on
