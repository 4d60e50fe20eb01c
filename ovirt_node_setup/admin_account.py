"""The node's admin account: the user who logs in to the setup console, where the
installer leaves its password's hash for the first boot, and reading its shadow field.

Kept apart from ``installer.slots`` (which loads pyparted) so that the console, the
appliers and the first boot can use it without loading the disk libraries.
"""

from __future__ import annotations

ADMIN_USER = "admin"
ADMIN_HASH = "ovirt-node/admin.hash"
"""Where the installer leaves the admin password's hash, relative to /config."""


def password_field(shadow: str, user: str = ADMIN_USER) -> str | None:
    """The password field of ``user``'s line in /etc/shadow text; None without a line."""
    for line in shadow.splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 1:
            return fields[1]
    return None
