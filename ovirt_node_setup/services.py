"""What a change may ask of the node's running services: the contract the appliers use.

``dbus_services.DbusServices`` implements it over D-Bus (hostname1, timedate1, locale1,
NetworkManager, systemd1, login1); offline (``--root``) there is no running service and
the appliers add no service steps at all. Every method raises
``transaction.ServiceAbsent`` when the service is not on the node (one sentence naming
it) and ``transaction.ServiceFailed`` when it refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .nm_connections import Connection


class Services(Protocol):
    def hostname(self) -> str:
        """The static hostname now ("" when unset)."""

    def set_hostname(self, name: str) -> None:
        """Set the static and the transient hostname."""

    def ntp(self) -> bool:
        """Whether time synchronisation is on."""

    def set_ntp(self, enabled: bool) -> None: ...

    def keyboard(self) -> str:
        """The console keymap now ("" when unset)."""

    def set_keyboard(self, keymap: str) -> None:
        """Set the console keymap (and convert no X11 layout)."""

    def restart_unit(self, unit: str) -> None:
        """Restart a systemd unit and wait for the job to finish."""

    def unit_enabled(self, unit: str) -> bool: ...

    def enable_unit(self, unit: str) -> None:
        """Enable a unit and start it now."""

    def disable_unit(self, unit: str) -> None:
        """Disable a unit and stop it now."""

    def apply_connections(self, connections: Sequence[Connection]) -> Callable[[], None]:
        """Make NetworkManager's ``ovirt-*`` connections exactly ``connections`` (add or
        update these, delete the other ``ovirt-*`` ones) and activate them; return a
        function that puts the previous connections back."""

    def reboot(self) -> None: ...

    def power_off(self) -> None: ...
