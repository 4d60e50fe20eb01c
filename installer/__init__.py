"""Install backend: plans, disks, partitioning, images and bootloader (never imports urwid)."""
