"""Developer tools: the reference node image builder and the qemu runner (not shipped)."""
