"""Monitoring: the collectd server the node sends its statistics to."""

from __future__ import annotations

from .fields import SettingsPage


class MonitoringPage(SettingsPage):
    menu = "Monitoring"
    title = "Monitoring"
    intro = ("collectd sends the node's statistics (CPU, memory, disks, network) to a "
             "collectd server; leave it empty to send nothing.")
    fields = (("collectd", "collectd server"),)
    change_title = "Apply the monitoring settings"
