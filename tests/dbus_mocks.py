"""A private system bus with mocks of the node's services, for tests of D-Bus clients.

Use the ``dbus_mocks`` fixture (import it into a test module, or into conftest.py)::

    from tests.dbus_mocks import dbus_mocks_fixture  # noqa: F401  (the fixture)

    def test_hostname(dbus_mocks):
        dbus_mocks.start("hostname", StaticHostname="old")
        DbusServices().set_hostname("node1")
        assert dbus_mocks.calls("hostname", "SetStaticHostname") == [["node1", False]]

The fixture starts a ``dbus-daemon`` of type system on a socket in a temporary
directory and points ``DBUS_SYSTEM_BUS_ADDRESS`` at it for the test (so
``DbusServices()`` and ``dbus.SystemBus()`` reach it; the host's own bus is never
touched). No service is on that bus until a test starts it, so a test of an absent
service simply does not start it. ``start(name, **properties)`` takes one of:

- ``hostname``: org.freedesktop.hostname1 (properties StaticHostname, Hostname;
  SetStaticHostname/SetHostname update them),
- ``timedate``: dbusmock's ``timedated`` template (NTP, SetNTP),
- ``locale``: org.freedesktop.locale1 (VConsoleKeymap; SetVConsoleKeyboard updates it),
- ``login``: dbusmock's ``logind`` template (Reboot, PowerOff),
- ``systemd``: dbusmock's ``systemd`` template plus RestartUnit, Subscribe, Reload,
  Enable/DisableUnitFiles and GetUnitFileState; declare units with
  ``add_unit(name, file_state="disabled", job_result="done")``; a unit never declared
  answers ``org.freedesktop.systemd1.NoSuchUnit`` like systemd,
- ``networkmanager``: dbusmock's ``networkmanager`` template (Settings, connections,
  ActivateConnection, GetDeviceByIpIface; ``add_ethernet(iface)`` adds a device).

``calls(name, method)`` is the argument lists of every call of ``method`` on the
service's main object, as plain Python values; ``mock(name, path)`` is the dbusmock
control interface (AddMethod, GetCalls, ClearCalls, ...) of any of its objects, e.g. to
make a method refuse. ``conn`` is the test's own connection to the bus. Every process
started (the bus and each mock) is stopped at the end of the test, also on failure, and
the environment variable is restored.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import dbus
import dbus.bus
import dbusmock
import pytest
from dbusmock.testcase import BusType, PrivateDBus, SpawnedMock

MOCK_IFACE = dbusmock.MOCK_IFACE
SYSTEMD_MANAGER = "org.freedesktop.systemd1.Manager"

_PLAIN = {
    "hostname": ("org.freedesktop.hostname1", "/org/freedesktop/hostname1",
                 "org.freedesktop.hostname1"),
    "locale": ("org.freedesktop.locale1", "/org/freedesktop/locale1",
               "org.freedesktop.locale1"),
}
_TEMPLATES = {"timedate": "timedated", "login": "logind", "systemd": "systemd",
              "networkmanager": "networkmanager"}
_MAIN_OBJECT = {"timedate": "/org/freedesktop/timedate1", "login": "/org/freedesktop/login1",
                "systemd": "/org/freedesktop/systemd1",
                "networkmanager": "/org/freedesktop/NetworkManager"}
_BUS_NAME = {"timedate": "org.freedesktop.timedate1", "login": "org.freedesktop.login1",
             "systemd": "org.freedesktop.systemd1",
             "networkmanager": "org.freedesktop.NetworkManager"}


def _set(interface: str, prop: str) -> str:
    return f"self.Set({interface!r}, {prop!r}, args[0])"


_HOSTNAME1, _LOCALE1 = "org.freedesktop.hostname1", "org.freedesktop.locale1"
_PLAIN_SETUP: dict[str, tuple[dict[str, Any], list[tuple[str, str, str, str]]]] = {
    "hostname": ({"StaticHostname": "", "Hostname": "localhost"},
                 [("SetStaticHostname", "sb", "", _set(_HOSTNAME1, "StaticHostname")),
                  ("SetHostname", "sb", "", _set(_HOSTNAME1, "Hostname"))]),
    "locale": ({"VConsoleKeymap": "us", "VConsoleKeymapToggle": ""},
               [("SetVConsoleKeyboard", "ssbb", "", _set(_LOCALE1, "VConsoleKeymap"))]),
}

_NO_UNIT = ("if str(args[0]) not in self.units: raise dbus.exceptions.DBusException("
            "'Unit %s not found.' % args[0], name='org.freedesktop.systemd1.NoSuchUnit')\n")
_JOB = (_NO_UNIT
        + "self.next_job_id += 1\n"
        + "ret = '/org/freedesktop/systemd1/job/%d' % self.next_job_id\n"
        + "self.EmitSignal('" + SYSTEMD_MANAGER + "', 'JobRemoved', 'uoss', "
        + "[self.next_job_id, ret, args[0], self.unit_mock[str(args[0])][1]])\n")
_FILES = ("for name in args[0]:\n"
          "    if str(name) not in self.units: raise dbus.exceptions.DBusException("
          "'Unit file %s does not exist.' % name, name='org.freedesktop.systemd1.NoSuchUnit')\n"
          "    self.unit_mock[str(name)] = ({state!r}, self.unit_mock[str(name)][1])\n")
_SYSTEMD_METHODS = [
    ("RestartUnit", "ss", "o", _JOB),
    ("Subscribe", "", "", ""),
    ("Reload", "", "", ""),
    ("EnableUnitFiles", "asbb", "ba(sss)",
     _FILES.format(state="enabled") + "ret = (False, [])"),
    ("DisableUnitFiles", "asb", "a(sss)", _FILES.format(state="disabled") + "ret = []"),
    ("GetUnitFileState", "s", "s", _NO_UNIT + "ret = self.unit_mock[str(args[0])][0]"),
    ("MockUnit", "sss", "",
     "self.__dict__.setdefault('unit_mock', {})[str(args[0])] = (str(args[1]), str(args[2]))"),
]


def plain(value: Any) -> Any:
    """A value received over D-Bus as plain Python (str, int, bool, list, dict, bytes)."""
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.ByteArray, bytes)):
        return bytes(value)
    if isinstance(value, dbus.Array) and value.signature == "y":
        return bytes(int(b) for b in value)
    if isinstance(value, (dict, dbus.Dictionary)):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dbus.String, dbus.ObjectPath, str)):
        return str(value)
    if isinstance(value, int):
        return int(value)
    return value


class DbusMocks:
    """The private bus of one test and the service mocks started on it."""

    def __init__(self, bus: PrivateDBus) -> None:
        self.bus = bus
        self.conn = dbus.bus.BusConnection(bus.address)
        self.spawned: dict[str, SpawnedMock] = {}

    def start(self, name: str, **properties: Any) -> None:
        """Put the mock of service ``name`` on the bus (see the module docstring)."""
        if name in _PLAIN:
            self.spawned[name] = SpawnedMock.spawn_for_name(
                *_PLAIN[name], BusType.SYSTEM, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            props, methods = _PLAIN_SETUP[name]
            control = self.mock(name)
            control.AddProperties(_PLAIN[name][2], {**props, **properties})
            control.AddMethods(_PLAIN[name][2], methods)
            return
        self.spawned[name] = SpawnedMock.spawn_with_template(
            _TEMPLATES[name], properties, BusType.SYSTEM, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        if name == "systemd":
            control = self.mock(name)
            control.AddMethods(SYSTEMD_MANAGER, _SYSTEMD_METHODS)

    def mock(self, name: str, path: str | None = None) -> Any:
        """The dbusmock control interface of an object of service ``name``."""
        bus_name = _PLAIN[name][0] if name in _PLAIN else _BUS_NAME[name]
        default = _PLAIN[name][1] if name in _PLAIN else _MAIN_OBJECT[name]
        obj = self.conn.get_object(bus_name, path or default)
        return dbus.Interface(obj, MOCK_IFACE)

    def calls(self, name: str, method: str, path: str | None = None) -> list[list[Any]]:
        """The argument lists of every call of ``method``, oldest first, as plain values."""
        return [plain(args) for _, args in self.mock(name, path).GetMethodCalls(method)]

    def add_unit(self, unit: str, file_state: str = "disabled", job_result: str = "done") -> None:
        """Make ``unit`` known to the systemd mock, its jobs ending with ``job_result``."""
        control = self.mock("systemd")
        control.AddMockUnit(unit)
        control.get_dbus_method("MockUnit", SYSTEMD_MANAGER)(unit, file_state, job_result)

    def add_ethernet(self, iface: str) -> str:
        """An ethernet device ``iface`` known to the NetworkManager mock; its object path."""
        return str(self.mock("networkmanager").AddEthernetDevice(f"mock_{iface}", iface, 100))

    def stop(self) -> None:
        for spawned in self.spawned.values():
            spawned.terminate()
        self.spawned.clear()
        self.conn.close()


@pytest.fixture(name="dbus_mocks")
def dbus_mocks_fixture() -> Iterator[DbusMocks]:
    """A private system bus for this test (``DBUS_SYSTEM_BUS_ADDRESS``), mocks on demand."""
    saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    bus = PrivateDBus(BusType.SYSTEM)
    mocks = None
    try:
        bus.start()
        mocks = DbusMocks(bus)
        yield mocks
    finally:
        if mocks is not None:
            mocks.stop()
        bus.stop()
        if saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved
