"""``ovirt-node-upgrade``: put a new image on an installed node, keeping the old as backup.

On the running node it upgrades the disk the node booted from and keeps the running
image; ``--disk`` names another disk or a VM's image file (offline). The steps and
their order are explained in ``installer/upgrade.py``; ``--status`` shows the slots and
the boot trial, ``--explain`` the steps, both without writing anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from .cli import EXIT_OK, ArgumentParser, common_arguments, run
from .errors import ValidationError

COMMAND = "ovirt-node-upgrade"
log = logging.getLogger(COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=COMMAND,
        description="Upgrade an installed node: the new image goes into the slot not in "
                    "use, the running image stays as the backup, and the first boot of the "
                    "new image is a trial that falls back to the backup by itself if the "
                    "new image does not come up.")
    parser.add_argument("--source", metavar="IMAGE",
                        help="the new node image: a folder or an ISO")
    parser.add_argument("--disk", metavar="DISK",
                        help="the node's disk or image file (default: the disk this node "
                             "booted from)")
    parser.add_argument("--downgrade", action="store_true",
                        help="allow an image older than the one kept")
    parser.add_argument("--force", action="store_true",
                        help="write the image even if the node already runs that version")
    parser.add_argument("--status", action="store_true",
                        help="show the slots, their images and the boot trial; change nothing")
    parser.add_argument("--explain", action="store_true",
                        help="print the upgrade's steps as JSON; change nothing")
    parser.add_argument("--cmdline", metavar="TEXT", help=argparse.SUPPRESS)
    common_arguments(parser)
    return parser


def _cmdline(args: argparse.Namespace) -> str:
    if args.cmdline is not None:
        return args.cmdline
    try:
        with open("/proc/cmdline", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _main(args: argparse.Namespace) -> int:
    from installer.image import ImageSource

    from . import node_upgrade
    from .console_progress import ConsoleProgress

    if args.status and (args.source or args.explain):
        raise ValidationError("--status shows the node as it is: give it without --source "
                              "or --explain.")
    if not args.status and not args.source:
        raise ValidationError("Give the new image with --source IMAGE (a folder or an ISO).")
    if os.geteuid() != 0:
        raise ValidationError("Reading and writing the node's disk needs root: run as root.")
    booted = None
    disk = args.disk
    if disk is None:
        disk, booted = node_upgrade.running_node_disk(_cmdline(args))
    if args.status:
        with node_upgrade.opened_node(disk) as node:
            print("\n".join(node_upgrade.describe_node(node, disk)))
        return EXIT_OK
    with ImageSource.open(args.source) as source, node_upgrade.opened_node(disk) as node:
        try:
            upgrade = node_upgrade.prepare(node, source, shown=disk, booted=booted,
                                           downgrade=args.downgrade, force=args.force)
        except ValidationError as err:
            from installer.upgrade import AlreadyInstalled

            if isinstance(err, AlreadyInstalled):
                print(f"{COMMAND}: {err}")
                return EXIT_OK
            raise
        if args.explain:
            json.dump({"disk": disk, "image": upgrade.image.describe(),
                       "keep": {"slot": upgrade.keep.label, "image": upgrade.kept.describe()},
                       "overwrite": {"slot": upgrade.target.label,
                                     "device": upgrade.target.device,
                                     "image": upgrade.target.image.describe()
                                     if upgrade.target.image else None},
                       "steps": [step.title for step in upgrade.steps()]},
                      sys.stdout, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        upgrade.run(ConsoleProgress(sys.stdout, redraw=sys.stdout.isatty()))
        print(node_upgrade.upgraded_sentence(upgrade))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(COMMAND, build_parser(), _main, argv,
               changes_nothing=lambda args: args.status or args.explain)


if __name__ == "__main__":
    sys.exit(main())
