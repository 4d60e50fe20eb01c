"""Remote storage: the node's iSCSI initiator name and its NFSv4 id-mapping domain."""

from __future__ import annotations

from .fields import SettingsPage


class RemoteStoragePage(SettingsPage):
    menu = "Remote storage"
    title = "Remote storage"
    intro = ("The iSCSI initiator name is how storage servers know this node; the NFSv4 "
             "domain must match the NFS server's for file owners to show right.")
    fields = (
        ("iscsi_initiator_name", "iSCSI initiator name"),
        ("nfsv4_domain", "NFSv4 domain"),
    )
    change_title = "Apply the remote storage settings"
