"""``ovirt-node-installer``: install the node, from the TUI or from boot parameters.

``--explain`` reads the boot parameters (``/proc/cmdline`` or ``--cmdline``), builds the
install plan, optionally resolves its disks and NIC against a machine description
(``--machine``), and prints it all as JSON, touching nothing. ``--auto`` carries the
plan out with plain-text progress (see ``auto_install``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from . import bootparams
from .cli import EXIT_OK, ArgumentParser, common_arguments, run
from .errors import ValidationError
from .installer_tui import terminal_name

if TYPE_CHECKING:
    from installer.image import ImageSource
    from installer.machine import Disk
    from installer.plan import InstallPlan

# --explain and --auto import the backend (pyparted, discovery) in their own functions:
# the screens' first frame must not wait for modules a dry run never uses.

COMMAND = "ovirt-node-installer"
log = logging.getLogger(COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=COMMAND,
        description="Install the hypervisor node. With no --auto or --explain, the "
                    "installer's screens ask for the disks, network and admin password. "
                    "Boot parameters (storage_init, ip, hostname, adminpw, ...) drive an "
                    "unattended install with --auto; --explain shows what they would do "
                    "without touching anything.",
    )
    parser.add_argument("--explain", action="store_true",
                        help="print the install plan as JSON and touch nothing")
    parser.add_argument("--cmdline", metavar="TEXT",
                        help="use TEXT as the kernel command line instead of /proc/cmdline")
    parser.add_argument("--machine", metavar="FILE",
                        help="run the installer's screens on a machine description "
                             "(examples/machines/*.json): a dry run that touches nothing; "
                             "with --source, as root, a real install into the description's "
                             "image-file disks")
    parser.add_argument("--auto", action="store_true",
                        help="install from the boot parameters with no questions (needs "
                             "storage_init; firstboot or reinstall to overwrite an installed "
                             "node)")
    parser.add_argument("--source", metavar="IMAGE",
                        help="the node image to install: a folder or an ISO (default: the "
                             "booted live media, /run/initramfs/live)")
    parser.add_argument("--layout", choices=("flash", "hdd"),
                        help="force the flash or HDD layout (default: flash for USB/SD)")
    parser.add_argument("--serial", action="store_true",
                        help="installing over a serial line: the screens use basic mode "
                             "(ASCII, monochrome) and the installed node gets a serial "
                             "console (ttyS0) as well; automatic on /dev/ttyS* or with "
                             "console=ttyS... among the boot parameters")
    common_arguments(parser)
    return parser


def read_cmdline(args: argparse.Namespace) -> str:
    if args.cmdline is not None:
        return args.cmdline
    try:
        with open("/proc/cmdline", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as err:
        raise ValidationError(
            f"Cannot read /proc/cmdline ({err.strerror}): give the parameters with --cmdline."
        ) from None


def _cmdline_or_empty(args: argparse.Namespace) -> str:
    try:
        return read_cmdline(args)
    except ValidationError:
        return ""


def explain(args: argparse.Namespace) -> dict[str, Any]:
    """The plan as JSON; with its disks resolved, also the layout and the steps."""
    from installer.discovery import discover_nics, memory_mb
    from installer.image import ImageSource
    from installer.machine import load_machine
    from installer.selectors import resolve_nic

    plan = bootparams.parse(read_cmdline(args))
    out = plan.to_json()
    if args.machine:
        machine = load_machine(args.machine)
        disks, nics, memory = machine.disks, machine.nics, machine.memory_mb
        out["machine"] = {"name": machine.name, "firmware": machine.firmware}
    else:
        disks, nics, memory = [], discover_nics(), memory_mb()
    # On this machine, a command line meant for another one may not resolve: say so in
    # the plan rather than refuse it. A machine description was asked about: refuse.
    try:
        nic = resolve_nic(plan.settings.network.bootif, nics)
        out["management_nic"] = (f"{nic.name} ({nic.mac}, {nic.driver or 'unknown driver'}, "
                                 f"link {'up' if nic.link else 'down'})" if nic else None)
        if plan.touches_disks:
            with ExitStack() as stack:
                source = (stack.enter_context(ImageSource.open(args.source))
                          if args.source else None)
                out["install"] = explain_install(plan, disks or None, memory, source,
                                                 args.layout)
    except ValidationError as err:
        if args.machine:
            raise
        out["not_resolved_here"] = str(err)
    return out


def explain_install(plan: InstallPlan, disks: list[Disk] | None, memory: int,
                    source: ImageSource | None, layout_kind: str | None) -> dict[str, Any]:
    """Resolve the disks (discovery when no machine is given; image files as they are,
    never attached) and list the layout and the steps an install would run."""
    from installer.discovery import discover_disks
    from installer.install import Install
    from installer.layout import plan_layout
    from installer.selectors import resolve_disks

    from .auto_install import image_file_disk

    if disks is None:
        files = [image_file_disk(s.path) for s in plan.disks
                 if s.path and os.path.isfile(s.path)]
        disks = files + discover_disks()
    chosen = resolve_disks(plan.disks, disks)
    layout = plan_layout(plan, chosen[0], image_bytes=source.total_bytes if source else 0,
                         memory_mb=memory, kind=layout_kind, extra_disks=chosen[1:])
    steps = Install(plan, layout, source, extra_disks=chosen[1:]).steps()
    return {
        "disks_to_erase": [d.describe() for d in chosen],
        "layout": layout.kind,
        "partitions": layout.describe(),
        "image": source.describe() if source else "the booted live media (or --source)",
        "steps": [step.title for step in steps],
    }


def on_serial_console(kernel_args: list[str]) -> bool:
    """Whether the install runs on a serial line: stdin is one, or the boot said so."""
    if any(arg.startswith("console=ttyS") for arg in kernel_args):
        return True
    return terminal_name().startswith("/dev/ttyS")


def _main(args: argparse.Namespace) -> int:
    if args.auto and args.explain:
        raise ValidationError("Give --explain or --auto, not both.")
    if args.auto:
        if args.machine:
            raise ValidationError("--machine describes a machine for a dry run; --auto "
                                  "installs for real: give one of them.")
        from .auto_install import LIVE_IMAGE, auto_install

        plan = bootparams.parse(read_cmdline(args))
        if plan.effective_action == "upgrade":
            return _auto_upgrade(plan, args.source or LIVE_IMAGE)
        print(auto_install(plan, args.source, layout_kind=args.layout,
                           serial_console=args.serial or on_serial_console(plan.kernel_args)))
        return EXIT_OK
    if not args.explain:
        from .installer_tui import run_installer

        return run_installer(args, _cmdline_or_empty(args))
    plan = explain(args)
    log.info("explained a plan for %d disk(s)", len(plan["disks"]))
    json.dump(plan, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def _auto_upgrade(plan: InstallPlan, source: str) -> int:
    from installer.upgrade import AlreadyInstalled

    from .console_progress import ConsoleProgress
    from .node_upgrade import auto_upgrade

    try:
        print(auto_upgrade(plan, source, ConsoleProgress(sys.stdout,
                                                         redraw=sys.stdout.isatty())))
    except AlreadyInstalled as err:
        print(f"{COMMAND}: {err}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(COMMAND, build_parser(), _main, argv, changes_nothing=_changes_nothing)


def _changes_nothing(args: argparse.Namespace) -> bool:
    """--explain and the dry run leave no trace (no log unless --log is given)."""
    return args.explain or bool(args.machine and not args.source and not args.auto)


if __name__ == "__main__":
    sys.exit(main())
