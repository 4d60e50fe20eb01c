"""``persist``: keep node paths across reboots in /config (``unpersist_cli``: stop).

See ``persistence.py`` for what a persisted path is and how the store stays whole.
``persist --replay`` puts every persisted path in place again on the running node, as
early boot does (it runs the same script, ``data/early-boot.sh replay``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli import EXIT_OK, EXIT_USAGE, ArgumentParser, common_arguments, run
from .errors import ValidationError

EARLY_BOOT = Path(__file__).resolve().parent.parent / "data" / "early-boot.sh"


def parser_for(command: str, description: str) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=command, description=description)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="absolute paths on the node")
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="the node's root filesystem is mounted at DIR, with its CONFIG "
                             "partition at DIR/config (default /: the running node); "
                             "offline, only files are written")
    common_arguments(parser)
    return parser


def each_path(command: str, action, args: argparse.Namespace) -> int:
    from .persistence import Store

    if not args.paths:
        raise ValidationError("Give at least one absolute PATH.")
    store = Store(args.root)
    status = EXIT_OK
    for path in args.paths:
        try:
            print(action(store, path))
        except ValidationError as err:
            if len(args.paths) == 1:
                raise
            print(f"{command}: {err}", file=sys.stderr)
            status = EXIT_USAGE
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = parser_for("persist", "Keep files, folders or symlinks of the node across "
                                "reboots: copy them into /config and record them in "
                                "/config/files.")
    parser.add_argument("--list", action="store_true", help="list the persisted paths")
    parser.add_argument("--replay", action="store_true",
                        help="put every persisted path in place again (as early boot does)")

    def body(args: argparse.Namespace) -> int:
        from . import persistence

        store = persistence.Store(args.root)
        if args.list or args.replay:
            if args.paths or (args.list and args.replay):
                raise ValidationError("--list and --replay take no PATH, and not each other.")
            if not os.path.ismount(store.config):
                raise ValidationError(f"Nothing is mounted at {store.config}: the CONFIG "
                                      "partition holds what is persisted.")
            if args.list:
                for path in persistence.persisted(store):
                    print(path)
                return EXIT_OK
            persistence.check_store(store)
            root = "" if store.live else os.path.realpath(args.root)
            return run_replay(store.config, root)
        return each_path("persist", persistence.persist, args)

    return run("persist", parser, body, argv,
               changes_nothing=lambda args: bool(args.list))


def run_replay(config: str, root: str) -> int:
    import subprocess

    return subprocess.run(["sh", str(EARLY_BOOT), "replay", config, root],
                          check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
