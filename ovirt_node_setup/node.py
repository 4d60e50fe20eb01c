"""The node a change is made to: the running system, or a node filesystem at ``--root``.

Offline (``--root`` given) only files are written; on the running node the services are
told as well. Whether a change can outlive the next reboot depends on ``/config``: a
stateless node, or one booted from its install media, keeps changes in RAM only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import persistence
from .errors import ValidationError

NOT_INSTALLED = ("Nothing is mounted at /config, so this node keeps no settings: changes "
                 "last until the next reboot.")


@dataclass(frozen=True)
class Node:
    """Where the node's files are (``root``) and whether it is the running system."""

    root: str = "/"
    running: bool | None = None  # None: running exactly when root is /; tests may force it

    @property
    def store(self) -> persistence.Store:
        return persistence.Store(self.root, self.running)

    @property
    def live(self) -> bool:
        """The running node: services are told about changes and persisted files are
        bind-mounted."""
        return self.store.live

    def path(self, node_path: str) -> str:
        """Where the node's absolute path ``node_path`` is on this machine."""
        return os.path.join(self.root, node_path.lstrip("/"))

    def persist_problem(self) -> str | None:
        """Why changes cannot be persisted (one sentence), or None when they can."""
        store = self.store
        if persistence.is_stateless(store):
            return persistence.STATELESS
        if not os.path.ismount(store.config):
            return NOT_INSTALLED if self.live else (
                f"Nothing is mounted at {store.config}: the node's CONFIG partition holds "
                "what is persisted, so mount it there first.")
        return None

    def check_root(self) -> None:
        """Refuse a ``--root`` that is not a node filesystem, before anything is written."""
        if not os.path.isdir(os.path.join(self.root, "etc")):
            raise ValidationError(f"{self.root} has no etc folder, so it is not a node's root "
                                  "filesystem: give the folder where the node is mounted.")
