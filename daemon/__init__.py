"""Layerbridge daemon: protocol, server, jobs, engine and the command-line client."""

__version__ = "0.1.0"
