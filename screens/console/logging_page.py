"""Logging: how logs are rotated, and where copies of them go over the network."""

from __future__ import annotations

from .fields import SettingsPage


class LoggingPage(SettingsPage):
    menu = "Logging"
    title = "Logging"
    intro = ("Logs stay on the node and rotate by size and interval (Space on the chosen "
             "interval clears it); copies can go to a remote syslog server and kernel "
             "messages to a netconsole server.")
    fields = (
        ("logrotate_max_size", "Rotate at size (KB)"),
        ("logrotate_interval", "Rotate",
         (("daily", "Daily"), ("weekly", "Weekly"), ("monthly", "Monthly"))),
        ("syslog", "Remote syslog"),
        ("netconsole", "Netconsole server"),
    )
    change_title = "Apply the logging settings"
