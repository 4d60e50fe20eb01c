"""The setup console (``ovirt-node-setup``): a side menu of pages that edit the node."""
