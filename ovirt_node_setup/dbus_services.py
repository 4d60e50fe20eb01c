"""The node's running services, told over the D-Bus system bus (``services.Services``).

hostname1, timedate1, locale1, systemd1, NetworkManager and login1 each get the calls
their own tools (hostnamectl, timedatectl, localectl, systemctl, nmcli) would make.
dbus-python is imported only when a service is first used, so the modules that merely
name this class stay importable on a machine without D-Bus. A service that is not on
the node raises ``ServiceAbsent`` and any refusal ``ServiceFailed``, each one sentence.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .nm_connections import OWNED_PREFIX, Connection
from .transaction import ServiceAbsent, ServiceFailed

PROPERTIES = "org.freedesktop.DBus.Properties"
SYSTEM_BUS_ADDRESS = "unix:path=/run/dbus/system_bus_socket"
"""The system bus when ``DBUS_SYSTEM_BUS_ADDRESS`` does not name another."""


@dataclass(frozen=True)
class _Service:
    name: str
    path: str
    interface: str
    title: str
    meanwhile: str
    """What it means for the change that the service is missing, ending the sentence."""


HOSTNAME = _Service("org.freedesktop.hostname1", "/org/freedesktop/hostname1",
                    "org.freedesktop.hostname1", "hostname service",
                    "the new hostname takes effect at the next boot")
TIMEDATE = _Service("org.freedesktop.timedate1", "/org/freedesktop/timedate1",
                    "org.freedesktop.timedate1", "time and date service",
                    "time synchronisation changes at the next boot")
LOCALE = _Service("org.freedesktop.locale1", "/org/freedesktop/locale1",
                  "org.freedesktop.locale1", "locale service",
                  "the new keymap takes effect at the next boot")
SYSTEMD = _Service("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                   "org.freedesktop.systemd1.Manager", "service manager",
                   "services change only at the next boot")
NM = _Service("org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager",
              "org.freedesktop.NetworkManager", "network service",
              "the network settings take effect at the next boot")
NM_SETTINGS_PATH = "/org/freedesktop/NetworkManager/Settings"
NM_SETTINGS = "org.freedesktop.NetworkManager.Settings"
NM_CONNECTION = "org.freedesktop.NetworkManager.Settings.Connection"
LOGIN = _Service("org.freedesktop.login1", "/org/freedesktop/login1",
                 "org.freedesktop.login1.Manager", "login manager",
                 "the node cannot be restarted or powered off from here")

_ABSENT_ERRORS = ("org.freedesktop.DBus.Error.ServiceUnknown",
                  "org.freedesktop.DBus.Error.NameHasNoOwner")
_NO_UNIT_ERRORS = ("org.freedesktop.systemd1.NoSuchUnit",
                   "org.freedesktop.DBus.Error.FileNotFound")
_JOB_SUCCESS = ("done", "skipped")
_ENABLED_STATES = ("enabled", "enabled-runtime")


def _dbus() -> Any:
    import dbus  # lazy: only a live node has a system bus
    import dbus.bus

    return dbus


def _sentence(error: Exception) -> str:
    """The D-Bus error message as one sentence, without a remote traceback."""
    get = getattr(error, "get_dbus_message", None)
    text = (get() if get else str(error)) or type(error).__name__
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = lines[-1] if "Traceback" in str(text) else lines[0] if lines else "no reason given"
    return line if line.endswith(".") else line + "."


def _absent(service: _Service) -> ServiceAbsent:
    return ServiceAbsent(f"The {service.title} ({service.name}) is not running on this node, "
                         f"so {service.meanwhile}.")


class DbusServices:
    """``services.Services`` over the system bus (``DBUS_SYSTEM_BUS_ADDRESS`` is honoured).

    ``bus`` is an already connected dbus-python bus; it must have a GLib main loop for
    unit jobs to be waited for. By default a connection of its own to the system bus is
    opened at the first call. ``job_timeout`` bounds the wait for a unit job to end.
    """

    def __init__(self, bus: Any = None, job_timeout: float = 90.0) -> None:
        self._bus = bus
        self.job_timeout = job_timeout

    # --- plumbing -------------------------------------------------------------------------

    def _connection(self, service: _Service) -> Any:
        if self._bus is None:
            try:
                dbus = _dbus()
                from dbus.mainloop.glib import DBusGMainLoop
            except ImportError:  # no D-Bus bindings: no bus to talk to either
                raise _absent(service) from None
            # Not dbus.SystemBus(): libdbus reads that address once per process, while the
            # variable may name another bus later (tests start a bus of their own each).
            address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", SYSTEM_BUS_ADDRESS)
            try:
                self._bus = dbus.bus.BusConnection(address, mainloop=DBusGMainLoop())
            except dbus.DBusException:
                raise _absent(service) from None
        return self._bus

    def _error(self, service: _Service, error: Any, doing: str, unit: str | None) -> Exception:
        name = error.get_dbus_name() or ""
        if name in _ABSENT_ERRORS or name.startswith("org.freedesktop.DBus.Error.Spawn."):
            return _absent(service)
        if unit and name in _NO_UNIT_ERRORS:
            return ServiceAbsent(f"{unit} is not installed on this node: {_sentence(error)}")
        return ServiceFailed(f"The {service.title} refused to {doing}: {_sentence(error)}")

    def _call(self, service: _Service, doing: str, method: str, *args: Any,
              path: str | None = None, interface: str | None = None,
              unit: str | None = None) -> Any:
        """Call ``method`` on the service, turning D-Bus errors into one sentence.

        With ``unit``, systemd's "no such unit" means that unit is absent.
        """
        bus = self._connection(service)
        dbus = _dbus()
        try:
            obj = bus.get_object(service.name, path or service.path, introspect=False)
            return obj.get_dbus_method(method, interface or service.interface)(*args)
        except dbus.DBusException as error:
            raise self._error(service, error, doing, unit) from None

    def _get(self, service: _Service, prop: str) -> Any:
        return self._call(service, f"tell its {prop}", "Get", service.interface, prop,
                          interface=PROPERTIES)

    # --- hostname, time, keyboard, power --------------------------------------------------

    def hostname(self) -> str:
        return str(self._get(HOSTNAME, "StaticHostname"))

    def set_hostname(self, name: str) -> None:
        doing = f"set the hostname {name}"
        self._call(HOSTNAME, doing, "SetStaticHostname", name, False)
        self._call(HOSTNAME, doing, "SetHostname", name, False)

    def ntp(self) -> bool:
        return bool(self._get(TIMEDATE, "NTP"))

    def set_ntp(self, enabled: bool) -> None:
        doing = f"turn time synchronisation {'on' if enabled else 'off'}"
        self._call(TIMEDATE, doing, "SetNTP", enabled, False)

    def keyboard(self) -> str:
        return str(self._get(LOCALE, "VConsoleKeymap"))

    def set_keyboard(self, keymap: str) -> None:
        self._call(LOCALE, f"set the keymap {keymap}", "SetVConsoleKeyboard",
                   keymap, "", False, False)

    def reboot(self) -> None:
        self._call(LOGIN, "restart the node", "Reboot", False)

    def power_off(self) -> None:
        self._call(LOGIN, "power off the node", "PowerOff", False)

    # --- systemd units --------------------------------------------------------------------

    def _unit_call(self, unit: str, doing: str, method: str, *args: Any) -> Any:
        return self._call(SYSTEMD, doing, method, *args, unit=unit)

    def _run_job(self, unit: str, doing: str, method: str) -> None:
        """Start a unit job (StartUnit, StopUnit, RestartUnit) and wait until it ends."""
        from gi.repository import GLib

        bus = self._connection(SYSTEMD)
        results: dict[str, str] = {}

        def removed(_id: Any, job: Any, _unit: Any, result: Any) -> None:
            results[str(job)] = str(result)

        match = bus.add_signal_receiver(removed, signal_name="JobRemoved",
                                        dbus_interface=SYSTEMD.interface, path=SYSTEMD.path)
        ticker = GLib.timeout_add(50, lambda: True)
        try:
            self._unit_call(unit, doing, "Subscribe")
            job = str(self._unit_call(unit, doing, method, unit, "replace"))
            deadline = time.monotonic() + self.job_timeout
            context = GLib.MainContext.default()
            while job not in results:
                if time.monotonic() > deadline:
                    raise ServiceFailed(f"{unit} did not finish within "
                                        f"{self.job_timeout:g} seconds when asked to {doing}.")
                context.iteration(True)
        finally:
            GLib.source_remove(ticker)
            match.remove()
        if results[job] not in _JOB_SUCCESS:
            raise ServiceFailed(f"The service manager could not {doing}: the job ended "
                                f"'{results[job]}'; see 'journalctl -u {unit}'.")

    def restart_unit(self, unit: str) -> None:
        self._run_job(unit, f"restart {unit}", "RestartUnit")

    def unit_enabled(self, unit: str) -> bool:
        state = self._unit_call(unit, f"tell whether {unit} is enabled", "GetUnitFileState", unit)
        return str(state) in _ENABLED_STATES

    def enable_unit(self, unit: str) -> None:
        doing = f"enable {unit}"
        self._unit_call(unit, doing, "EnableUnitFiles", [unit], False, True)
        self._unit_call(unit, doing, "Reload")
        self._run_job(unit, f"start {unit}", "StartUnit")

    def disable_unit(self, unit: str) -> None:
        doing = f"disable {unit}"
        self._unit_call(unit, doing, "DisableUnitFiles", [unit], False)
        self._unit_call(unit, doing, "Reload")
        self._run_job(unit, f"stop {unit}", "StopUnit")

    # --- NetworkManager -------------------------------------------------------------------

    def _nm(self, doing: str, method: str, *args: Any, path: str = NM_SETTINGS_PATH,
            interface: str = NM_SETTINGS) -> Any:
        return self._call(NM, doing, method, *args, path=path, interface=interface)

    def _owned(self) -> dict[str, tuple[str, Any]]:
        """NetworkManager's ``ovirt-*`` connections now: uuid -> (object path, settings)."""
        owned = {}
        for path in self._nm("list its connections", "ListConnections"):
            settings = self._nm("read a connection", "GetSettings", path=path,
                                interface=NM_CONNECTION)
            head = settings.get("connection", {})
            if str(head.get("id", "")).startswith(OWNED_PREFIX):
                owned[str(head["uuid"])] = (str(path), settings)
        return owned

    def _activate(self, path: str, interface: str, name: str) -> None:
        try:
            device = self._call(NM, "", "GetDeviceByIpIface", interface)
        except ServiceFailed:
            device = "/"  # not there yet (a bond, a VLAN): NetworkManager creates it
        self._call(NM, f"activate the connection {name}", "ActivateConnection",
                   path, device, "/")

    def apply_connections(self, connections: Sequence[Connection]) -> Callable[[], None]:
        before = self._owned()
        added: list[str] = []
        updated: list[str] = []
        deleted: list[str] = []

        def undo() -> None:
            for path in reversed(added):
                self._nm("remove a new connection", "Delete", path=path, interface=NM_CONNECTION)
            for uid in updated:
                path, settings = before[uid]
                self._nm(f"restore the connection {settings['connection']['id']}", "Update",
                         settings, path=path, interface=NM_CONNECTION)
            restored = {uid: before[uid][0] for uid in updated}
            for uid in deleted:
                settings = before[uid][1]
                restored[uid] = self._nm(f"restore the connection {settings['connection']['id']}",
                                         "AddConnection", settings)
            for uid, path in restored.items():
                head = before[uid][1]["connection"]
                if "master" not in head:
                    self._activate(path, str(head.get("interface-name", "")), str(head["id"]))

        try:
            paths = {}
            for conn in connections:
                settings = to_dbus(conn.settings)
                if conn.uuid in before:
                    path = before[conn.uuid][0]
                    self._nm(f"change the connection {conn.id}", "Update", settings,
                             path=path, interface=NM_CONNECTION)
                    updated.append(conn.uuid)
                else:
                    path = str(self._nm(f"add the connection {conn.id}", "AddConnection",
                                        settings))
                    added.append(path)
                paths[conn.uuid] = path
            wanted = {conn.uuid for conn in connections}
            for uid, (path, settings) in before.items():
                if uid not in wanted:
                    self._nm(f"delete the connection {settings['connection']['id']}", "Delete",
                             path=path, interface=NM_CONNECTION)
                    deleted.append(uid)
            for conn in connections:
                if conn.master is None:
                    self._activate(paths[conn.uuid], conn.interface, conn.id)
        except (ServiceFailed, ServiceAbsent) as error:
            try:
                undo()
            except (ServiceFailed, ServiceAbsent) as undo_error:
                raise ServiceFailed(f"{str(error).rstrip('.')}; putting the previous "
                                    f"connections back failed too: {undo_error}") from None
            raise
        return undo


# --- plain values -> D-Bus types ----------------------------------------------------------

def _uint32_address(address: str) -> int:
    """An IPv4 address as NetworkManager's uint32, which holds it in network byte order."""
    return int.from_bytes(ipaddress.IPv4Address(address).packed, sys.byteorder)


def to_dbus(settings: dict[str, dict[str, Any]]) -> Any:
    """A connection's plain setting map as the ``a{sa{sv}}`` NetworkManager takes."""
    dbus = _dbus()
    unsigned = {("vlan", "id"), ("vlan", "flags")}

    def value(setting: str, key: str, plain: Any) -> Any:
        if key == "address-data":
            return dbus.Array([dbus.Dictionary({"address": dbus.String(a["address"]),
                                                "prefix": dbus.UInt32(a["prefix"])},
                                               signature="sv") for a in plain],
                              signature="a{sv}")
        if (setting, key) == ("ipv4", "dns"):
            return dbus.Array([dbus.UInt32(_uint32_address(a)) for a in plain], signature="u")
        if (setting, key) == ("ipv6", "dns"):
            return dbus.Array([dbus.ByteArray(ipaddress.IPv6Address(a).packed) for a in plain],
                              signature="ay")
        if isinstance(plain, dict):
            return dbus.Dictionary({k: dbus.String(v) for k, v in plain.items()},
                                   signature="ss")
        if isinstance(plain, bool):
            return dbus.Boolean(plain)
        if isinstance(plain, int):
            return dbus.UInt32(plain) if (setting, key) in unsigned else dbus.Int32(plain)
        return dbus.String(plain)

    return dbus.Dictionary(
        {name: dbus.Dictionary({k: value(name, k, v) for k, v in values.items()},
                               signature="sv")
         for name, values in settings.items()},
        signature="sa{sv}")
