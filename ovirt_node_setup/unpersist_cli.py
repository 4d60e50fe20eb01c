"""``unpersist``: stop keeping paths across reboots (see ``persistence.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli import run
from .persist_cli import each_path, parser_for


def main(argv: Sequence[str] | None = None) -> int:
    parser = parser_for("unpersist", "Stop keeping paths across reboots: their current "
                                     "content stays on the node, the copy in /config and its "
                                     "record go.")

    def body(args: argparse.Namespace) -> int:
        from .persistence import unpersist

        return each_path("unpersist", unpersist, args)

    return run("unpersist", parser, body, argv)


if __name__ == "__main__":
    sys.exit(main())
