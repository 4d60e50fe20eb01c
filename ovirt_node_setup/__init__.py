"""Settings, validators, boot parameters and command-line entry points of the node."""

__version__ = "0.1.0"
