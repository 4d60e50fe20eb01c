"""urwid screens of the installer and the setup console (never runs commands itself)."""
