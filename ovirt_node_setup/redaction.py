"""Finding passwords and crypt hashes in text, so they never leave the process.

Used on every log line and every message printed, and by the boot-parameter parser
to refuse unknown parameters that would carry a secret onto the installed system.
"""

from __future__ import annotations

import re

_SECRETS = (
    # NAMEpw=..., password=..., passphrase: ... as on a kernel command line or in a message
    re.compile(r"(?<![\w.-])([\w.-]*(?:pw|passw(?:or)?d|passphrase))(\s*[=:]\s*)"
               r"(\"[^\"]*\"?|'[^']*'?|\S+)", re.IGNORECASE),
    # crypt(3) hashes, wherever they appear
    re.compile(r"()()\$(?:1|2[abxy]|5|6|7|y|gy|sha1|md5)\$[./A-Za-z0-9$=,]+"),
)


def redact(text: str) -> str:
    """Replace every password or crypt hash in ``text`` with ``***``."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return text


def has_secret(text: str) -> bool:
    return redact(text) != text
