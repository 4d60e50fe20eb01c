"""Running external tools: argument lists only, output logged, failures as one sentence."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

log = logging.getLogger(__name__)


class CommandFailed(Exception):
    """A command failed; ``str()`` is one sentence for a person, the output is in the log."""


def run(argv: Sequence[str], *, input: bytes | None = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` (never through a shell); log it and its output.

    A missing program or a non-zero exit raises ``CommandFailed`` naming the program
    and the last line of its error output.
    """
    argv = [str(a) for a in argv]
    if shutil.which(argv[0]) is None:
        raise CommandFailed(f"The program {argv[0]} is not installed.")
    log.debug("running %s", argv)
    try:
        result = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                                check=False)
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{argv[0]} did not finish within {timeout:.0f} s.") from None
    for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data.strip():
            log.debug("%s %s:\n%s", argv[0], name, data.decode(errors="replace").rstrip())
    if check and result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {lines[-1].strip()}" if lines else ""
        raise CommandFailed(f"{argv[0]} failed with exit status {result.returncode}{detail}.")
    return result
