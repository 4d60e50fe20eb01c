"""Boot a disk image (or a kernel and initrd) in qemu and read its serial console.

Software emulation only (``-accel tcg``: KVM does not work on the development
machines), 768 MiB, no network, ``-no-reboot`` (a reboot ends qemu), SeaBIOS or, with
``efi``, OVMF with a private copy of its variable store. Disks are raw files attached
as virtio disks.

Tests use :func:`boot` (one expectation, then qemu is gone) or :class:`VM` (several
expectations, typing on the console). qemu runs in a process group of its own and is
killed when the ``with`` block or :func:`boot` ends, whatever happens, and by the
kernel if the Python process dies (parent-death signal).

Command line: ``tools/vm DISK [--efi] [--disk EXTRA]... [--expect REGEX [--timeout S]]``;
without ``--expect`` the serial console is the terminal (quit with Ctrl-A X).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, Union

QEMU = "qemu-system-x86_64"
MEMORY_MIB = 768
DEFAULT_TIMEOUT = 90.0
# (code, variable store) pairs, preferred first: Debian's ovmf ships the 4 MiB ones.
OVMF_PAIRS = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
)

PathLike = Union[str, os.PathLike]


class VMError(Exception):
    """qemu could not be started; ``str()`` is one sentence for a person."""


@dataclass(frozen=True)
class Result:
    """What a boot showed: the whole serial transcript, unmodified."""

    transcript: str
    matched: bool
    seconds: float              # from start to the match (or to giving up)
    exit_status: int | None     # qemu's, if it ended by itself (the guest powered off);
                                # None if it was still running and had to be stopped
    expect: str = ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.transcript.replace("\r", "").splitlines()[-lines:])

    def describe(self, lines: int = 40) -> str:
        """For assertion messages: what was expected, what happened, the last lines."""
        how = "matched" if self.matched else "did not match"
        ended = ("qemu still running when stopped" if self.exit_status is None
                 else f"qemu exited with status {self.exit_status}")
        return (f"/{self.expect}/ {how} after {self.seconds:.1f} s ({ended}); "
                f"last {lines} lines of the console:\n{self.tail(lines)}")


def ovmf_files() -> tuple[Path, Path]:
    """OVMF's firmware code and its pristine variable store."""
    for code, variables in OVMF_PAIRS:
        if os.path.isfile(code) and os.path.isfile(variables):
            return Path(code), Path(variables)
    raise VMError("OVMF is not installed (Debian package ovmf): cannot boot with UEFI.")


def qemu_argv(disk: PathLike | None = None, *, efi_vars: PathLike | None = None,
              kernel: PathLike | None = None, initrd: PathLike | None = None,
              append: str | None = None, extra_disks: Sequence[PathLike] = (),
              memory: int = MEMORY_MIB, interface: str = "virtio",
              nic: bool = False) -> list[str]:
    """The qemu command line. ``efi_vars`` (a writable copy of OVMF's variable store)
    selects UEFI; without it SeaBIOS boots."""
    argv = [QEMU, "-accel", "tcg", "-m", str(memory), "-nographic", "-no-reboot"]
    if efi_vars is not None:
        code, _ = ovmf_files()
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={efi_vars}"]
    for path in ([disk] if disk is not None else []) + list(extra_disks):
        argv += ["-drive", f"file={_drive_path(path)},format=raw,if={interface}"]
    if kernel is not None:
        argv += ["-kernel", str(kernel)]
        if initrd is not None:
            argv += ["-initrd", str(initrd)]
        if append is not None:
            argv += ["-append", append]
    elif initrd is not None or append is not None:
        raise VMError("An initrd or a kernel command line needs a kernel (kernel=...).")
    argv += ["-nic", "user,model=virtio-net-pci"] if nic else ["-nic", "none"]
    return argv


def _drive_path(path: PathLike) -> str:
    text = str(path)
    if not os.path.exists(text):
        raise VMError(f"The disk image {text} does not exist.")
    if "," in text:
        raise VMError(f"qemu cannot take a disk path with a comma in it: {text}.")
    return text


_running: weakref.WeakSet[VM] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for vm in list(_running):
        vm.stop()


class VM:
    """A qemu guest whose serial console is read in the background.

    Use as a context manager::

        with VM(disk) as vm:
            assert vm.expect(r"login:", timeout=60), vm.describe()
            vm.send("root\\n")

    ``expect`` searches the console output after the previous match, like pexpect.
    qemu is stopped (its whole process group) when the block ends. It is also killed
    if the thread that started it dies, so start a VM from a thread that outlives it.
    """

    def __init__(self, disk: PathLike | None = None, *, efi: bool = False,
                 kernel: PathLike | None = None, initrd: PathLike | None = None,
                 append: str | None = None, extra_disks: Sequence[PathLike] = (),
                 memory: int = MEMORY_MIB, interface: str = "virtio", nic: bool = False,
                 echo: TextIO | None = None) -> None:
        if disk is None and kernel is None:
            raise VMError("Nothing to boot: give a disk image or a kernel.")
        self._options = dict(disk=disk, kernel=kernel, initrd=initrd, append=append,
                             extra_disks=tuple(extra_disks), memory=memory,
                             interface=interface, nic=nic)
        self.efi = efi
        self.echo = echo
        self.argv: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._data = bytearray()
        self._changed = threading.Condition()
        self._eof = False
        self._position = 0
        self._started = 0.0
        self._stopped = False
        self.last_expect = ""
        self.last_matched = False

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> VM:
        if shutil.which(QEMU) is None:
            raise VMError(f"{QEMU} is not installed (Debian package qemu-system-x86).")
        efi_vars = None
        if self.efi:
            _, pristine = ovmf_files()
            self._scratch = tempfile.TemporaryDirectory(prefix="ovirt-node-vm-")
            efi_vars = Path(self._scratch.name) / "OVMF_VARS.fd"
            shutil.copyfile(pristine, efi_vars)
        self.argv = qemu_argv(efi_vars=efi_vars, **self._options)
        # setpriv --pdeathsig: the kernel kills qemu if we die without cleaning up.
        prefix = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        self._started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                prefix + self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as err:
            self._cleanup_scratch()
            raise VMError(f"Cannot start {QEMU}: {err}.") from err
        _running.add(self)
        self._reader = threading.Thread(target=self._read, name="vm-console", daemon=True)
        self._reader.start()
        return self

    def __enter__(self) -> VM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill qemu's process group (if it still runs) and clean up; safe to repeat."""
        process = self._process
        if process is not None and process.poll() is None:
            self._stopped = True
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None:
            # qemu is gone; anything left in its group (there should be nothing) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        if self._reader is not None:
            self._reader.join(5)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        _running.discard(self)
        self._cleanup_scratch()

    def _cleanup_scratch(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _read(self) -> None:
        if self._process is None or self._process.stdout is None:
            return
        fd = self._process.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if self.echo is not None and chunk:
                self.echo.write(chunk.decode(errors="replace"))
                self.echo.flush()
            with self._changed:
                if chunk:
                    self._data += chunk
                else:
                    self._eof = True
                self._changed.notify_all()
            if not chunk:
                return

    # -- the console ------------------------------------------------------------------

    @property
    def transcript(self) -> str:
        """Everything qemu wrote so far (console and qemu's own messages), as is."""
        with self._changed:
            return self._data.decode(errors="replace")

    @property
    def exit_status(self) -> int | None:
        """qemu's exit status if it ended by itself; None while it runs or if stopped."""
        if self._process is None or self._stopped:
            return None
        return self._process.poll()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def expect(self, pattern: str | re.Pattern[str], timeout: float = DEFAULT_TIMEOUT
               ) -> re.Match[str] | None:
        """Wait until ``pattern`` shows up after the previous match; None on timeout or
        when qemu ended without showing it. The search runs on the text as qemu wrote
        it (serial lines end in ``\\r\\n``)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.last_expect = regex.pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                text = self._data.decode(errors="replace")
                match = regex.search(text, self._position)
                if match is not None:
                    self._position = match.end()
                    self.last_matched = True
                    return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    self.last_matched = False
                    return None
                self._changed.wait(min(remaining, 1.0))

    def send(self, text: str) -> None:
        """Type ``text`` on the serial console (Ctrl-A is qemu's escape key there)."""
        if self._process is None or self._process.stdin is None:
            raise VMError("The VM is not running.")
        self._process.stdin.write(text.encode())
        self._process.stdin.flush()

    def wait(self, timeout: float) -> int | None:
        """Wait for qemu to end by itself (the guest powered off); its status or None."""
        if self._process is None:
            return None
        try:
            status = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(5)
        return status

    def result(self) -> Result:
        return Result(self.transcript, self.last_matched, self.seconds, self.exit_status,
                      self.last_expect)

    def describe(self, lines: int = 40) -> str:
        return self.result().describe(lines)


def boot(disk: PathLike | None = None, *, expect: str, timeout: float = DEFAULT_TIMEOUT,
         efi: bool = False, kernel: PathLike | None = None, initrd: PathLike | None = None,
         append: str | None = None, extra_disks: Sequence[PathLike] = (),
         wait_exit: bool = False, memory: int = MEMORY_MIB, interface: str = "virtio",
         echo: TextIO | None = None) -> Result:
    """Boot, read the console until ``expect`` (a regex) shows up or ``timeout`` seconds
    pass, then stop qemu. With ``wait_exit``, after the match let the guest end by itself
    (e.g. ``ovirt.test_poweroff``) within what is left of the timeout, so that the
    transcript is complete and the disks are no longer written to.
    """
    with VM(disk, efi=efi, kernel=kernel, initrd=initrd, append=append,
            extra_disks=extra_disks, memory=memory, interface=interface, echo=echo) as vm:
        match = vm.expect(expect, timeout)
        seconds = vm.seconds
        if match is not None and wait_exit:
            vm.wait(max(timeout - seconds, 0.0))
        vm.stop()
        return Result(vm.transcript, match is not None, seconds, vm.exit_status, expect)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vm",
        description="Boot a raw disk image in qemu (software emulation, 768 MiB, no "
                    "network) with the serial console on this terminal. Quit with Ctrl-A "
                    "then X (Ctrl-A H lists the other keys); a reboot of the guest also "
                    "ends qemu. With --expect, read the console until REGEX shows up and "
                    "exit 0, or exit 1 after --timeout seconds.",
        epilog="example: tools/vm disk.img --efi")
    parser.add_argument("disk", nargs="?", help="raw disk image to boot (the first disk)")
    parser.add_argument("--efi", action="store_true", help="boot with OVMF (UEFI) instead "
                                                           "of SeaBIOS")
    parser.add_argument("--disk", dest="extra_disks", action="append", default=[],
                        metavar="IMAGE", help="another raw disk (repeatable)")
    parser.add_argument("--kernel", help="boot this kernel directly (no bootloader)")
    parser.add_argument("--initrd", help="with --kernel: its initramfs")
    parser.add_argument("--append", help="with --kernel: its command line")
    parser.add_argument("--memory", type=int, default=MEMORY_MIB, help="MiB (default 768)")
    parser.add_argument("--expect", metavar="REGEX",
                        help="non-interactive: wait for REGEX on the console, then stop")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"with --expect: give up after S seconds "
                             f"(default {DEFAULT_TIMEOUT:.0f})")
    args = parser.parse_args(argv)
    if args.disk is None and args.kernel is None:
        parser.error("give a disk image to boot (or --kernel)")
    options = dict(efi=args.efi, kernel=args.kernel, initrd=args.initrd, append=args.append,
                   extra_disks=args.extra_disks, memory=args.memory)
    try:
        if args.expect is not None:
            result = boot(args.disk, expect=args.expect, timeout=args.timeout,
                          echo=sys.stdout, **options)
            status = "matched" if result.matched else "did not match"
            print(f"\nvm: /{args.expect}/ {status} after {result.seconds:.1f} s",
                  file=sys.stderr)
            return 0 if result.matched else 1
        return _interactive(args.disk, **options)
    except VMError as err:
        print(f"vm: {err}", file=sys.stderr)
        return 2


def _interactive(disk: str | None, *, efi: bool, **options: object) -> int:
    """qemu in the foreground on this terminal: serial console and monitor on stdio."""
    with tempfile.TemporaryDirectory(prefix="ovirt-node-vm-") as scratch:
        efi_vars = None
        if efi:
            _, pristine = ovmf_files()
            efi_vars = Path(scratch) / "OVMF_VARS.fd"
            shutil.copyfile(pristine, efi_vars)
        argv = qemu_argv(disk, efi_vars=efi_vars, **options)  # type: ignore[arg-type]
        if shutil.which(QEMU) is None:
            raise VMError(f"{QEMU} is not installed (Debian package qemu-system-x86).")
        print("vm: serial console follows; quit with Ctrl-A then X", file=sys.stderr)
        return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())
