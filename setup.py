"""Packaging of ovirt-node-setup: the three packages of the product card and its commands."""

from setuptools import setup

setup(
    name="ovirt-node-setup",
    version="0.1.0",
    description="Text-mode installer and setup console of a small hypervisor node",
    license="GPL-2.0-or-later",
    python_requires=">=3.9",
    packages=["ovirt_node_setup", "installer", "screens"],
    install_requires=["urwid>=2.6", "wcwidth", "pyparted", "blivet", "dbus-python"],
    entry_points={
        "console_scripts": [
            "ovirt-node-installer = ovirt_node_setup.installer_cli:main",
            "ovirt-node-upgrade = ovirt_node_setup.upgrade_cli:main",
            "persist = ovirt_node_setup.persist_cli:main",
            "unpersist = ovirt_node_setup.unpersist_cli:main",
            "ovirt-node-setup = ovirt_node_setup.console_cli:main",
            "ovirt-node-config = ovirt_node_setup.config_cli:main",
        ],
    },
)
