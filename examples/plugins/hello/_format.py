"""A helper module: its name starts with '_', so the loader does not look for PAGES in it."""

from __future__ import annotations

from ovirt_node_setup.console_backend import NicStatus


def nic_line(nic: NicStatus) -> str:
    link = "up" if nic.link else "down"
    addresses = ", ".join(nic.addresses) or "no address"
    return f"  {nic.name:<10} {link:<5} {addresses}"
