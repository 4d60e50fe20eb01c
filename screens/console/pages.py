"""The built-in pages of the setup console, in menu order (plugins' pages follow)."""

from __future__ import annotations

from .kdump import KdumpPage
from .keyboard_page import KeyboardPage
from .logging_page import LoggingPage
from .management import ManagementPage
from .monitoring import MonitoringPage
from .network import NetworkPage
from .page import Page
from .plugins_page import PluginsPage
from .remote_storage import RemoteStoragePage
from .security import SecurityPage
from .status import StatusPage
from .support import SupportPage

PAGES: list[type[Page]] = [
    StatusPage, NetworkPage, SecurityPage, KeyboardPage, LoggingPage, KdumpPage,
    RemoteStoragePage, MonitoringPage, ManagementPage, PluginsPage, SupportPage,
]
