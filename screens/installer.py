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
from .welcome import Welcome

SCREENS = (Welcome, Keyboard, BootDevice, InstallDevices, Storage, Network, Password,
           Confirm, Progress, Finish)
