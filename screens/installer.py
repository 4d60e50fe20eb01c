"""The installer's screens, in the order the user meets them."""

from __future__ import annotations

from .boot_device import BootDevice
from .confirm import Confirm
from .finish import Finish
from .install_devices import InstallDevices
from .keyboard import Keyboard
from .network import Network
from .password import Password
from .progress import Progress
from .storage import Storage
from .upgrade_password import UpgradePassword
from .welcome import Welcome

SCREENS = (Welcome, Keyboard, UpgradePassword, BootDevice, InstallDevices, Storage, Network,
           Password, Confirm, Progress, Finish)
"""An install skips UpgradePassword; an upgrade skips BootDevice up to Password."""
