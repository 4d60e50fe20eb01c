"""What every command shares: argument parsing with one-line errors, logging, exit codes.

Exit status 0 is success, 1 a failure of the system (details in the log), 2 a usage
error: bad arguments or a refused value, explained in one sentence on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from installer.commands import CommandFailed
from installer.steps import StepFailed

from .errors import ValidationError
from .logsetup import setup_logging
from .redaction import redact

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger(__name__)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one sentence and a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'.\n")


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", metavar="FILE",
                        help="write the log to FILE instead of /var/log/ovirt-node/")
    parser.add_argument("--debug", action="store_true", help="also log everything on stderr")


def run(command: str, parser: argparse.ArgumentParser,
        body: Callable[[argparse.Namespace], int], argv: Sequence[str] | None,
        *, changes_nothing: Callable[[argparse.Namespace], bool] = lambda _: False) -> int:
    """Parse arguments, set up logging and run ``body``, mapping errors to exit codes."""
    args = parser.parse_args(argv)
    try:
        log_file = setup_logging(command, log_file=args.log, debug=args.debug,
                                 default_file=not changes_nothing(args))
    except OSError as err:
        print(f"{command}: cannot write the log {args.log}: {err.strerror}.", file=sys.stderr)
        return EXIT_USAGE
    try:
        return body(args)
    except ValidationError as err:
        log.info("refused: %s", err)
        print(redact(f"{command}: {err}"), file=sys.stderr)
        return EXIT_USAGE
    except (StepFailed, CommandFailed) as err:
        log.info("failed: %s", err)
        reason = str(err).rstrip(".")
        where = f"; details are in {log_file}" if log_file else "."
        print(redact(f"{command}: {reason}{where}"), file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader left (``| head``): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{command}: interrupted.", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        log.exception("%s failed", command)
        where = f"; details are in {log_file}" if log_file else "; run with --debug for details"
        print(f"{command}: an unexpected error stopped the command{where}.", file=sys.stderr)
        return EXIT_FAILED
