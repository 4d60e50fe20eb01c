"""A sample plugin for the setup console: one read-only page of node facts.

Copy the folder into the plugin folder (/usr/share/ovirt-node-setup/plugins) to try it;
docs/plugins.md has the contract it follows.
"""

NAME = "hello"
VERSION = "1.0"
DESCRIPTION = "Shows the node's facts on one page: a small example of a plugin."
DATE = "2026-11-24"
