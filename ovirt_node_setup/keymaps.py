"""Console keyboard layouts: which ones exist, finding one by typing, and switching to it.

The admin must be able to type the password with the keyboard in front of them, so the
installer offers the layouts this system really has (kbd's keymap files) and loads the
chosen one at once with ``loadkeys``. Names are kbd's, as written to vconsole.conf.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from installer.commands import CommandFailed, run
from ovirt_node_setup import validators
from ovirt_node_setup.errors import ValidationError

DEFAULT = "us"
ROOTS = ("/usr/share/keymaps", "/usr/lib/kbd/keymaps")
# kbd installs .map(.gz); Debian's console-data uses .kmap(.gz) for the same files.
_SUFFIXES = (".map.gz", ".map", ".kmap.gz", ".kmap")


@dataclass(frozen=True)
class Keymap:
    """A console keymap: ``name`` as kbd spells it, ``description`` for a person ('' if unknown)."""

    name: str
    description: str


KNOWN: tuple[Keymap, ...] = tuple(Keymap(name, description) for name, description in (
    ("us", "English (US)"),
    ("us-acentos", "English (US, international with dead keys)"),
    ("uk", "English (UK)"),
    ("dvorak", "English (Dvorak)"),
    ("dvorak-l", "English (Dvorak, left hand)"),
    ("dvorak-r", "English (Dvorak, right hand)"),
    ("colemak", "English (Colemak)"),
    ("de", "German"),
    ("de-latin1", "German (Latin-1)"),
    ("de-latin1-nodeadkeys", "German (Latin-1, no dead keys)"),
    ("de_CH-latin1", "Swiss German"),
    ("sg", "Swiss German (legacy)"),
    ("fr", "French"),
    ("fr-latin1", "French (Latin-1)"),
    ("fr-latin9", "French (Latin-9, with euro)"),
    ("fr-pc", "French (PC)"),
    ("fr_CH", "Swiss French"),
    ("fr_CH-latin1", "Swiss French (Latin-1)"),
    ("be-latin1", "Belgian"),
    ("cf", "Canadian French"),
    ("es", "Spanish"),
    ("latam", "Latin American"),
    ("la-latin1", "Latin American (Latin-1)"),
    ("it", "Italian"),
    ("it2", "Italian (alternative)"),
    ("pt-latin1", "Portuguese"),
    ("br-abnt2", "Brazilian (ABNT2)"),
    ("br-latin1-us", "Brazilian (US layout)"),
    ("dk", "Danish"),
    ("dk-latin1", "Danish (Latin-1)"),
    ("no", "Norwegian"),
    ("no-latin1", "Norwegian (Latin-1)"),
    ("sv-latin1", "Swedish"),
    ("fi", "Finnish"),
    ("is-latin1", "Icelandic"),
    ("et", "Estonian"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("nl", "Dutch"),
    ("nl2", "Dutch (alternative)"),
    ("pl", "Polish"),
    ("pl2", "Polish (programmer)"),
    ("cz-qwerty", "Czech (QWERTY)"),
    ("cz-lat2", "Czech (QWERTZ)"),
    ("sk-qwerty", "Slovak (QWERTY)"),
    ("sk-qwertz", "Slovak (QWERTZ)"),
    ("hu", "Hungarian"),
    ("hu101", "Hungarian (101 keys)"),
    ("ro", "Romanian"),
    ("slovene", "Slovenian"),
    ("croat", "Croatian"),
    ("sr-cy", "Serbian (Cyrillic)"),
    ("mk", "Macedonian"),
    ("bg_bds-utf8", "Bulgarian"),
    ("ru", "Russian"),
    ("ua", "Ukrainian"),
    ("by", "Belarusian"),
    ("kazakh", "Kazakh"),
    ("gr", "Greek"),
    ("trq", "Turkish (Q)"),
    ("trf", "Turkish (F)"),
    ("il", "Hebrew"),
    ("jp106", "Japanese (106 keys)"),
))  # fmt: skip
_DESCRIPTIONS = {keymap.name: keymap.description for keymap in KNOWN}


def _sorted(keymaps: Iterable[Keymap]) -> list[Keymap]:
    """The default first, then by name, so the usual choice is at the top of the list."""
    return sorted(keymaps, key=lambda k: (k.name != DEFAULT, k.name.casefold(), k.name))


def _keymap_name(file_name: str) -> str | None:
    """The keymap a file defines, or None if it is not a keymap or its name is unusable."""
    for suffix in _SUFFIXES:
        if file_name.endswith(suffix):
            name = file_name[: -len(suffix)]
            try:
                return validators.keyboard_layout(name)
            except ValidationError:
                return None
    return None


def available(roots: Sequence[str] = ROOTS) -> list[Keymap]:
    """The keymaps installed below ``roots``, default first; all of KNOWN if none are found.

    The fallback keeps the choice usable on a system without kbd's files (a test host, a
    minimal image): the name is still stored and applied at the next boot.
    """
    names: set[str] = set()
    for root in roots:
        for _dir, _subdirs, files in os.walk(root):
            names.update(name for name in map(_keymap_name, files) if name is not None)
    if not names:
        return _sorted(KNOWN)
    return _sorted(Keymap(name, _DESCRIPTIONS.get(name, "")) for name in names)


def search(keymaps: Sequence[Keymap], text: str) -> list[Keymap]:
    """Keymaps matching typed ``text``: names starting with it first, then other matches."""
    needle = text.casefold()
    if not needle:
        return list(keymaps)
    starts = [k for k in keymaps if k.name.casefold().startswith(needle)]
    contains = [
        k for k in keymaps
        if not k.name.casefold().startswith(needle)
        and (needle in k.name.casefold() or needle in k.description.casefold())
    ]  # fmt: skip
    return starts + contains


def load(name: str) -> None:
    """Switch the console keyboard to ``name`` now, so the next thing typed already uses it."""
    validators.keyboard_layout(name)
    # Checked here rather than from run()'s CommandFailed: its sentence is meant for logs.
    if shutil.which("loadkeys") is None:
        raise ValidationError(
            "The console keyboard cannot be changed here: loadkeys (package kbd) is not installed."
        )
    try:
        run(["loadkeys", name], timeout=30)
    except CommandFailed as error:
        raise ValidationError(
            f"The keyboard layout {validators.shown(name)} could not be"
            f" loaded: {str(error).rstrip('.')}."
        ) from error
