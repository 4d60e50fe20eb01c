"""The node's first boot: the settings the install chose reach the services.

The installer only writes ``/etc/default/ovirt`` and leaves the admin password's hash in
``/config/ovirt-node/admin.hash``; the services' own files (network connections, time,
SSH...) are written here, by the same transaction the setup console runs. So the change
is planned from "nothing configured" to the node's settings with the setting
parameters of the kernel command line merged over them (only what the command line
gives), plus the installer's admin password while the admin account is still locked.

A marker in /config makes it run once (``ovirt-node-firstboot.service`` checks it too).
A stateless node, or one without /config, keeps no marker: its boot parameters are
applied at every boot, which is what a node that forgets everything needs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from installer.machine import Nic

from . import bootparams, validators
from .admin_account import ADMIN_HASH, password_field
from .apply import plan_change
from .console_backend import Change
from .errors import ValidationError
from .node import Node
from .settings import Settings, load
from .transaction import Transaction

if TYPE_CHECKING:
    from .services import Services

MARKER = "/config/ovirt-node/firstboot.done"
INSTALLER_HASH = "/config/" + ADMIN_HASH
SHADOW = "/etc/shadow"
TITLE = "Apply the first boot's settings"
INSTALL_ONLY = ("storage",)
"""Settings groups the boot parameters give only to an install (disk sizes, stateless)."""


def read_cmdline(path: str = "/proc/cmdline") -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def done(node: Node) -> bool:
    return os.path.exists(node.path(MARKER))


def boot_settings(cmdline: str) -> tuple[Settings, str | None]:
    """The node settings the command line gives (the rest ``None``) and ``adminpw``'s
    hash; ``BootParameterError`` naming a refused parameter."""
    plan = bootparams.parse(cmdline)
    given = copy.deepcopy(plan.settings)
    for group in INSTALL_ONLY:
        setattr(given, group, type(getattr(given, group))())
    return given, plan.admin_password_hash


def merge(base: Settings, over: Settings) -> Settings:
    """``base`` with every setting that ``over`` sets replaced by it."""
    merged = copy.deepcopy(base)
    for name, _, value in over.items():
        if value is not None:
            merged.put(name, value)
    return merged


def admin_password_field(node: Node) -> str:
    """The password field of the admin's /etc/shadow line; "" when there is none."""
    try:
        with open(node.path(SHADOW), encoding="utf-8") as handle:
            return password_field(handle.read()) or ""
    except FileNotFoundError:
        return ""


def admin_locked(node: Node) -> bool:
    """Whether the admin account has no usable password yet, so the installer's hash is
    still to be set: locked ("!*" as systemd-sysusers makes it, "!", "*") or empty."""
    field = admin_password_field(node)
    return field == "" or field.startswith(("!", "*"))


def installer_hash(node: Node) -> str | None:
    """The admin password hash the installer left in /config, or None."""
    try:
        with open(node.path(INSTALLER_HASH), encoding="utf-8") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    try:
        return validators.crypt_hash(text)
    except ValidationError:
        raise ValidationError(f"{INSTALLER_HASH} does not hold a crypt hash: set the admin "
                              "password with ovirt-node-setup, and remove the file.") from None


def first_change(node: Node, cmdline: str) -> Change:
    """The change of the first boot; refused as a whole (``ValidationError``) if a boot
    parameter, or the settings with the parameters merged, are not acceptable."""
    given, admin_hash = boot_settings(cmdline)
    saved = load(node.root)
    settings = merge(saved, given)
    if settings.management.management_server != saved.management.management_server:
        # a fingerprint was accepted for the old server only (no boot parameter gives one)
        settings.management.management_fingerprint = None
    try:
        settings.check()
    except ValidationError as err:
        raise ValidationError(f"The boot parameters and the node's settings together: {err}"
                              ) from None
    if admin_hash is None and admin_locked(node):
        admin_hash = installer_hash(node)
    return Change(settings, admin_hash, TITLE)


def plan(node: Node, cmdline: str, services: Services | None = None, *,
         nics: Sequence[Nic] = ()) -> Transaction:
    """The first boot's transaction: the change (see the module's docstring), then the
    marker, written only when it can persist and only if every step before it worked."""
    transaction = plan_change(node, Settings(), first_change(node, cmdline), services,
                              nics=nics)
    problem = node.persist_problem()
    if problem is None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        transaction.add(f"Write {MARKER}", lambda: transaction.files.write(
            MARKER, f"The first boot's settings were applied on {stamp}.\n"))
    else:
        transaction.notes.append("No marker of the first boot can be kept, so the boot "
                                  "parameters are applied again at every boot.")
    return transaction
