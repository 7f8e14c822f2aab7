"""Layerbridge desktop tray app: a client of the daemon (admin scope); never imports torch."""
