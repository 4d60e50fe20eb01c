"""Refusals every install shares, before any disk is touched: the plan, then the disks.

Light on purpose (no pyparted, no discovery): the dry run checks plans with them too.
"""

from __future__ import annotations

from installer.machine import Disk
from installer.plan import InstallPlan

from .errors import ValidationError


def check_plan(plan: InstallPlan) -> None:
    """Refuse plans ``--auto`` cannot carry out, each in one sentence."""
    if plan.stateless:
        raise ValidationError("This node was booted 'stateless': it touches no local storage, "
                              "so it refuses to install; boot without 'stateless' to install.")
    action = plan.effective_action
    if action == "upgrade":
        raise ValidationError("The 'upgrade' boot parameter upgrades the installed node "
                              "with --auto (or use ovirt-node-upgrade); it is no install.")
    if action not in (None, "install"):
        raise ValidationError(f"The '{action}' action is not available yet; only install and "
                              "upgrade are.")
    missing = plan.missing_for_unattended()
    if missing:
        raise ValidationError("An unattended install needs " + " and ".join(missing) + ".")


def refuse_existing_nodes(plan: InstallPlan, disks: list[Disk]) -> None:
    if plan.reinstall:
        return
    for disk in disks:
        if disk.holds_node:
            raise ValidationError(
                f"{disk.describe()} already holds a node (labels {', '.join(disk.labels)}): add "
                "'firstboot' or 'reinstall' to the boot parameters to overwrite it.")
