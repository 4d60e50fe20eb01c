"""Plugins: packages in the plugin folder that add pages to the setup console.

The contract is in docs/plugins.md. In short: each plugin is a Python package (a folder
with ``__init__.py`` that sets ``NAME``, ``VERSION`` and optionally ``DESCRIPTION`` and
``DATE``); each of its public modules exports ``PAGES``, a list of ``Page`` subclasses.

A plugin that cannot be imported or breaks the contract is listed with its problem and
its pages are left out: a broken plugin never stops the console. Plugins are imported
under a private package name so that a plugin called ``json`` or ``screens`` cannot
shadow the product's (or Python's) modules. Nothing is imported until ``load_pages`` is
called, which keeps this module free of urwid.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import logging
import os
import sys
import types
from typing import TYPE_CHECKING, Any

from .console_backend import PluginInfo

if TYPE_CHECKING:
    from screens.console.page import Page

DEFAULT_FOLDER = "/usr/share/ovirt-node-setup/plugins"
PREFIX = "_ovirt_node_plugins"
"""The private package every plugin is imported under: ``_ovirt_node_plugins.<folder>``."""

log = logging.getLogger(__name__)


class ContractError(Exception):
    """A plugin breaks the contract; ``str()`` is one sentence."""


def _prefix_package() -> None:
    if PREFIX not in sys.modules:
        package = types.ModuleType(PREFIX)
        package.__path__ = []
        sys.modules[PREFIX] = package


def _forget(name: str) -> None:
    """Drop an earlier import of the plugin, so loading again reads the files again."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def _text(package: types.ModuleType, attribute: str, required: bool) -> str:
    value = getattr(package, attribute, None)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ContractError(f"Its __init__.py must set {attribute} to a non-empty string.")
    return value.strip()


def _date(folder: str, package: types.ModuleType) -> str:
    given = _text(package, "DATE", required=False)
    if given:
        try:
            return datetime.date.fromisoformat(given).isoformat()
        except ValueError:
            raise ContractError(f"Its DATE {given!r} is not an ISO date like 2024-05-31.") from None
    return datetime.date.fromtimestamp(os.stat(folder).st_mtime).isoformat()


def _pages(module: types.ModuleType, page_class: type[Page]) -> list[type[Page]]:
    name = module.__name__.rsplit(".", 1)[-1]
    pages = getattr(module, "PAGES", None)
    if not isinstance(pages, (list, tuple)):
        raise ContractError(f"Its module {name} must export PAGES, a list of Page classes.")
    for page in pages:
        if not (isinstance(page, type) and issubclass(page, page_class) and page is not page_class):
            raise ContractError(f"{name}.PAGES holds {page!r}, which is not a Page subclass.")
        if not isinstance(page.menu, str) or not page.menu.strip():
            raise ContractError(f"The page {name}.{page.__name__} has no menu name.")
    return list(pages)


def _modules(folder: str) -> list[str]:
    return sorted(entry[:-3] for entry in os.listdir(folder)
                  if entry.endswith(".py") and not entry.startswith(("_", ".")))


def _load(folder: str, page_class: type[Page]) -> tuple[PluginInfo, list[type[Page]]]:
    """Import one plugin package; ``ContractError`` or whatever its code raised on failure."""
    base = os.path.basename(folder)
    if not base.isidentifier():
        raise ContractError(f"Its folder name {base!r} is not a Python identifier: use "
                            "letters, digits and '_'.")
    init = os.path.join(folder, "__init__.py")
    if not os.path.isfile(init):
        raise ContractError("Its folder has no __init__.py, so it is not a Python package.")
    name = f"{PREFIX}.{base}"
    _forget(name)
    spec = importlib.util.spec_from_file_location(name, init,
                                                  submodule_search_locations=[folder])
    if spec is None or spec.loader is None:
        raise ContractError("Its __init__.py cannot be imported.")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    info = PluginInfo(name=_text(package, "NAME", True), version=_text(package, "VERSION", True),
                      date=_date(folder, package),
                      description=_text(package, "DESCRIPTION", False))
    pages: list[type[Page]] = []
    for module in _modules(folder):
        pages.extend(_pages(importlib.import_module(f"{name}.{module}"), page_class))
    if not pages:
        raise ContractError("It has no module exporting PAGES, so it adds no page.")
    return info, pages


def _fallback_info(folder: str, problem: str) -> PluginInfo:
    """What can be listed about a plugin that did not load."""
    package = sys.modules.get(f"{PREFIX}.{os.path.basename(folder)}")
    found: dict[str, Any] = {}
    for attribute in ("NAME", "VERSION", "DESCRIPTION"):
        value = getattr(package, attribute, None) if package else None
        found[attribute] = value.strip() if isinstance(value, str) else ""
    try:
        date = datetime.date.fromtimestamp(os.stat(folder).st_mtime).isoformat()
    except OSError:
        date = ""
    return PluginInfo(name=found["NAME"] or os.path.basename(folder),
                      version=found["VERSION"] or "-", date=date,
                      description=found["DESCRIPTION"], problem=problem)


def _problem(err: BaseException) -> str:
    if isinstance(err, ContractError):
        return str(err)
    detail = " ".join(str(err).split()) or "no message"
    if isinstance(err, SyntaxError) and err.filename:
        detail = f"{err.msg} in {os.path.basename(err.filename)} line {err.lineno}"
    return (f"It failed to load ({type(err).__name__}: {detail.rstrip('.')}); "
            "its pages are left out.")


def load_pages(folder: str = DEFAULT_FOLDER) -> tuple[list[type[Page]], list[PluginInfo]]:
    """The pages of every plugin in ``folder`` and what to list about each plugin.

    A missing folder means no plugins. Pages keep the order of their plugins (by folder
    name) and modules (by file name); each page is wrapped so that an error in its own
    code shows on the page instead of ending the console.
    """
    from screens.console.page import Page
    from screens.console.plugins_page import guarded

    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return [], []
    _prefix_package()
    pages: list[type[Page]] = []
    infos: list[PluginInfo] = []
    for entry in entries:
        path = os.path.join(folder, entry)
        if entry.startswith((".", "_")) or not os.path.isdir(path):
            continue
        try:
            info, found = _load(path, Page)
        except (Exception, SystemExit) as err:
            problem = _problem(err)
            log.warning("plugin %s: %s", entry, problem,
                        exc_info=not isinstance(err, ContractError))
            infos.append(_fallback_info(path, problem))
            _forget(f"{PREFIX}.{entry}")
            continue
        infos.append(info)
        pages.extend(guarded(page, info.name) for page in found)
    return pages, infos
