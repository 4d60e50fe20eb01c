"""The RPM spec: it parses, builds, and installs the modules where they cannot clash.

These tests run the real rpm tools (Debian's `rpm`, `rpm2cpio` and `cpio` packages) on
the spec at the top of the repository. Everything they write goes below a temporary
directory, HOME included, so no ~/.rpmmacros or ~/.rpmdb of the user is read or written.
"""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "ovirt-node-setup.spec"
SETUP_PY = REPO / "setup.py"
NAME = "ovirt-node-setup"
PRIVATE_DIR = "/usr/share/ovirt-node-setup"
BINDIR = "/usr/bin"
PACKAGES = ("ovirt_node_setup", "installer", "screens")
SYSTEM_PYTHON = "/usr/bin/python3"
LOGIN_SHELL = "/usr/libexec/ovirt-node/login-shell"
SUDOERS = "/etc/sudoers.d/ovirt-node"

# What goes into the source tarball: the working tree, committed or not (git archive
# would miss uncommitted files), minus what is never source.
TARBALL_ITEMS = (*PACKAGES, "data", "setup.py", "README.md", SPEC.name)
EXCLUDED_NAMES = {".venv", "__pycache__", ".git", ".pytest_cache", ".ruff_cache"}

# The tools these tests need and the Debian package that provides each. tools/bootstrap
# installs them, so a missing tool is a defect of the machine: fail, do not skip.
TOOLS = {
    "rpm": "rpm",
    "rpmbuild": "rpm",
    "rpmspec": "rpm",
    "rpm2cpio": "rpm2cpio",
    "cpio": "cpio",
}

EXPECTED_REQUIRES = {
    "python3",
    "python3-urwid",
    "python3-pyparted",
    "python3-blivet",
    "python3-dbus",
    "parted",
    "e2fsprogs",
    "dosfstools",
    "mtools",
    "util-linux",
    "grub2-tools",
    "grub2-pc-modules",
    "grub2-efi-x64-modules",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"'{name}' is not installed; install the Debian package '{TOOLS[name]}' "
            f"(apt-get install {TOOLS[name]}), or run tools/bootstrap as root."
        )
    return path


def setup_call() -> ast.Call:
    tree = ast.parse(SETUP_PY.read_text(), filename=str(SETUP_PY))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            return node
    raise AssertionError("setup.py has no setup(...) call")


def setup_keyword(name: str):
    for keyword in setup_call().keywords:
        if keyword.arg == name:
            try:
                return ast.literal_eval(keyword.value)
            except ValueError:
                raise AssertionError(f"setup.py: {name}= is not a literal") from None
    raise AssertionError(f"setup.py: setup() has no {name}= argument")


def console_scripts() -> dict[str, str]:
    """Command name -> module, from setup.py's console_scripts ("cmd = module:main")."""
    scripts = {}
    for entry in setup_keyword("entry_points").get("console_scripts", []):
        command, _, target = (part.strip() for part in entry.partition("="))
        module, _, function = target.partition(":")
        assert function.strip() == "main", f"entry point {entry!r} does not call main()"
        scripts[command] = module.strip()
    assert scripts, "setup.py declares no console_scripts"
    return scripts


class Rpm:
    """Runs the rpm tools with HOME, the rpm database and all rpm paths under tmp."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, HOME=str(self.home), LC_ALL="C.UTF-8")
        self.defines = []
        for macro, path in (
            ("_topdir", root / "topdir"),
            ("_tmppath", root / "rpmtmp"),
            ("_dbpath", root / "rpmdb"),
        ):
            path.mkdir(parents=True, exist_ok=True)
            self.defines += ["--define", f"{macro} {path}"]

    def run(self, name: str, *args: str) -> str:
        result = subprocess.run(
            [tool(name), *self.defines, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (
            f"{name} {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
        return result.stdout


def setup_version() -> str:
    return setup_keyword("version")


def make_tarball(sources: Path, version: str) -> Path:
    top = f"{NAME}-{version}"
    tarball = sources / f"{top}.tar.gz"

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if any(part in EXCLUDED_NAMES or part.endswith(".egg-info") for part in parts):
            return None
        if info.name.endswith((".pyc", ".pyo")):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(tarball, "w:gz") as archive:
        for item in TARBALL_ITEMS:
            path = REPO / item
            if path.exists():
                archive.add(path, arcname=f"{top}/{item}", filter=keep)
    return tarball


@pytest.fixture(scope="module")
def rpm(tmp_path_factory) -> Rpm:
    return Rpm(tmp_path_factory.mktemp("rpm"))


@pytest.fixture(scope="module")
def built(rpm: Rpm) -> dict:
    """Build the binary RPM once; return its path and the .py files of the tarball."""
    version = setup_version()
    sources = rpm.root / "topdir" / "SOURCES"
    sources.mkdir(parents=True, exist_ok=True)
    tarball = make_tarball(sources, version)
    with tarfile.open(tarball) as archive:
        sources_py = {
            member.name.split("/", 1)[1]
            for member in archive.getmembers()
            if member.isfile()
            and member.name.endswith(".py")
            and member.name.split("/")[1] in PACKAGES
        }
    # --nodeps: on a Debian host the BuildRequires (python3) are Debian packages, not
    # rpm-installed ones, so rpmbuild's BuildRequires check would always fail. It skips
    # only that check; the build itself runs in full.
    rpm.run("rpmbuild", "-bb", "--nodeps", str(SPEC))
    rpms = list((rpm.root / "topdir" / "RPMS" / "noarch").glob(f"{NAME}-{version}-*.noarch.rpm"))
    assert len(rpms) == 1, f"expected one noarch RPM, found {rpms}"
    return {"rpm": rpms[0], "sources_py": sources_py}


@pytest.fixture(scope="module")
def payload(built: dict, rpm: Rpm) -> Path:
    """The RPM's files extracted with rpm2cpio | cpio (two processes, no shell)."""
    root = rpm.root / "payload"
    root.mkdir()
    unpack = subprocess.Popen(
        [tool("rpm2cpio"), str(built["rpm"])], stdout=subprocess.PIPE, env=rpm.env
    )
    cpio = subprocess.run(
        [tool("cpio"), "-idm", "--quiet", "--no-absolute-filenames"],
        stdin=unpack.stdout,
        cwd=root,
        capture_output=True,
    )
    unpack.stdout.close()
    assert unpack.wait() == 0, "rpm2cpio failed"
    assert cpio.returncode == 0, f"cpio failed: {cpio.stderr.decode()}"
    return root


def test_spec_parses_with_the_expected_requires(rpm: Rpm) -> None:
    requires = set(rpm.run("rpmspec", "-q", "--requires", str(SPEC)).split())
    missing = EXPECTED_REQUIRES - requires
    assert not missing, f"the spec lacks Requires: {sorted(missing)}"


def test_spec_name_version_license_arch_match_setup_py(rpm: Rpm) -> None:
    query = "%{NAME}|%{VERSION}|%{LICENSE}|%{ARCH}"
    out = rpm.run("rpmspec", "-q", "--qf", query + "\n", str(SPEC)).split()
    assert out == [f"{NAME}|{setup_version()}|{setup_keyword('license')}|noarch"]


@pytest.mark.slow
def test_rpmbuild_makes_a_noarch_rpm(built: dict) -> None:
    assert built["rpm"].stat().st_size > 0


@pytest.mark.slow
def test_rpm_installs_modules_privately_and_one_launcher_per_command(built: dict, rpm: Rpm) -> None:
    files = set(rpm.run("rpm", "-qlp", str(built["rpm"])).split())
    for package in PACKAGES:
        assert f"{PRIVATE_DIR}/{package}/__init__.py" in files
    # The data files the code reads beside its packages (the bootloader's menu template).
    # The boot scripts come with the shell library they source from beside themselves.
    assert {f"{PRIVATE_DIR}/data/grub.cfg.in", f"{PRIVATE_DIR}/data/early-boot.sh",
            f"{PRIVATE_DIR}/data/boot-ok.sh", f"{PRIVATE_DIR}/data/node-lib.sh"} <= files
    # The units (the end of a boot trial, the first boot's settings, the serial getty's
    # speed) where systemd looks, enabled by a preset; the admin user and its login.
    assert {"/usr/lib/systemd/system/ovirt-node-boot-ok.service",
            "/usr/lib/systemd/system/ovirt-node-firstboot.service",
            "/usr/lib/systemd/system/serial-getty@ttyS0.service.d/50-ovirt-node.conf",
            "/usr/lib/systemd/system-preset/80-ovirt-node-setup.preset",
            LOGIN_SHELL, "/usr/lib/sysusers.d/ovirt-node.conf",
            "/usr/lib/tmpfiles.d/ovirt-node.conf", SUDOERS} <= files
    assert f"{PRIVATE_DIR}/plugins" in files  # the console's plugin folder is owned
    clashing = sorted(f for f in files if "site-packages" in f or "dist-packages" in f)
    assert not clashing, f"the RPM puts modules on the system path: {clashing}"
    assert not [f for f in files if "__pycache__" in f and not f.endswith(".pyc")]

    # Every Python source of the three packages, and nothing else, is shipped.
    shipped_py = {
        f[len(PRIVATE_DIR) + 1 :]
        for f in files
        if f.startswith(PRIVATE_DIR + "/") and f.endswith(".py")
    }
    assert shipped_py == built["sources_py"]

    # The launchers and setup.py's console_scripts cannot drift apart.
    launchers = {f[len(BINDIR) + 1 :] for f in files if f.startswith(BINDIR + "/")}
    assert launchers == set(console_scripts())


@pytest.mark.slow
def test_boot_ok_unit_runs_the_shipped_script_and_is_enabled(payload: Path) -> None:
    unit = payload / "usr/lib/systemd/system/ovirt-node-boot-ok.service"
    starts = [line.partition("=")[2].split() for line in unit.read_text().splitlines()
              if line.startswith("ExecStart=")]
    assert len(starts) == 1
    script = payload / starts[0][0].lstrip("/")
    assert script == payload / PRIVATE_DIR.lstrip("/") / "data" / "boot-ok.sh"
    assert script.is_file() and os.access(script, os.X_OK)
    # It finds its shell library beside it: on a "stateless" boot it has nothing to do.
    cmdline = payload.parent / "boot-ok-cmdline"
    cmdline.write_text("root=live:LABEL=Root stateless\n")
    done = subprocess.run([str(script), "file", "/nonexistent/grubenv"], capture_output=True,
                          text=True, env=dict(os.environ, OVIRT_NODE_CMDLINE=str(cmdline)))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert "enable ovirt-node-boot-ok.service" in preset_lines(payload)


def preset_lines(payload: Path) -> list[str]:
    preset = payload / "usr/lib/systemd/system-preset/80-ovirt-node-setup.preset"
    return [line for line in preset.read_text().splitlines()
            if line and not line.startswith("#")]


@pytest.mark.slow
def test_admin_login_is_installed_and_wired(payload: Path, built: dict, rpm: Rpm) -> None:
    # The sysusers line gives the admin user the login shell the package installs.
    sysusers = (payload / "usr/lib/sysusers.d/ovirt-node.conf").read_text()
    admin = [shlex.split(line) for line in sysusers.splitlines()
             if line.startswith("u ")]
    assert [entry[:2] for entry in admin] == [["u", "admin"]]
    assert admin[0][5] == LOGIN_SHELL
    shell = payload / LOGIN_SHELL.lstrip("/")
    assert shell.is_file() and os.access(shell, os.X_OK)
    # sudo lets the admin user start exactly the launcher of the console, without
    # arguments; sudo ignores a sudoers.d file that others can read or write.
    sudoers = (payload / SUDOERS.lstrip("/")).read_text()
    rules = [line for line in sudoers.splitlines() if line and not line.startswith("#")]
    assert rules == [f'admin ALL=(root) NOPASSWD: {BINDIR}/ovirt-node-setup ""']
    assert "ovirt-node-setup" in console_scripts()
    modes = dict(line.split(" ", 1)[::-1] for line in rpm.run(
        "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", str(built["rpm"])
    ).splitlines())
    assert modes[SUDOERS] == "-r--r-----"
    assert modes[LOGIN_SHELL] == "-rwxr-xr-x"
    # The first boot unit runs the launcher of ovirt-node-config; the preset enables it
    # and the gettys of tty1 and ttyS0.
    unit = (payload / "usr/lib/systemd/system/ovirt-node-firstboot.service").read_text()
    assert f"ExecStart={BINDIR}/ovirt-node-config firstboot" in unit.splitlines()
    assert {"enable ovirt-node-firstboot.service", "enable getty@.service tty1",
            "enable serial-getty@.service ttyS0"} <= set(preset_lines(payload))


def launcher_facts(text: str) -> tuple[str, str | None, str | None]:
    """(shebang, directory put first on sys.path, module whose main is imported)."""
    tree = ast.parse(text)
    first_dir = module = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "sys.path.insert"
            and len(node.args) == 2
            and ast.literal_eval(node.args[0]) == 0
        ):
            first_dir = ast.literal_eval(node.args[1])
        if isinstance(node, ast.ImportFrom) and [a.name for a in node.names] == ["main"]:
            module = node.module
    return text.splitlines()[0], first_dir, module


@pytest.mark.slow
def test_launchers_use_the_private_dir_and_the_setup_py_module(payload: Path) -> None:
    for command, module in console_scripts().items():
        launcher = payload / BINDIR.lstrip("/") / command
        assert launcher.is_file(), f"no launcher for {command}"
        assert os.access(launcher, os.X_OK), f"launcher {command} is not executable"
        shebang, first_dir, imported = launcher_facts(launcher.read_text())
        assert shebang == f"#!{SYSTEM_PYTHON} -I"
        assert first_dir == PRIVATE_DIR
        assert imported == module


@pytest.mark.slow
def test_payload_is_importable_by_the_system_python(payload: Path) -> None:
    private = payload / PRIVATE_DIR.lstrip("/")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        f"import {', '.join(PACKAGES)}; "
        f"print('\\n'.join(m.__file__ for m in ({', '.join(PACKAGES)})))"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", code, str(private)],
        cwd=payload,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for package, path in zip(PACKAGES, result.stdout.split()):
        assert Path(path) == private / package / "__init__.py"


@pytest.mark.slow
def test_installer_launcher_runs_help_from_the_payload(payload: Path) -> None:
    private = payload / PRIVATE_DIR.lstrip("/")
    command = "ovirt-node-installer"
    module = console_scripts()[command]
    if not (private / (module.replace(".", "/") + ".py")).is_file():
        pytest.skip(f"{module} is not written yet")
    launcher = payload / BINDIR.lstrip("/") / command
    # The launcher is run as it is: it puts /usr/share/ovirt-node-setup first, which does
    # not exist here, so the next entry, the extracted payload, is where imports come
    # from (checked through __file__ below). It runs under this venv's interpreter in
    # isolated mode, because the product's third-party modules (urwid, parted, blivet)
    # are in the venv here, where a node has them in the system site-packages.
    code = (
        "import runpy, sys\n"
        "private, launcher = sys.argv[1:3]\n"
        "sys.path.insert(0, private)\n"
        "sys.argv = [launcher, '--help']\n"
        "try:\n"
        "    runpy.run_path(launcher, run_name='__main__')\n"
        "finally:\n"
        "    print('IMPORTED-FROM', sys.modules['ovirt_node_setup'].__file__,"
        " file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(private), str(launcher)],
        cwd=payload,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
    imported_from = result.stderr.rsplit("IMPORTED-FROM ", 1)[1].strip()
    assert Path(imported_from) == private / "ovirt_node_setup" / "__init__.py"
