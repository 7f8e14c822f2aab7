"""About Layerbridge: what it is, this app's version, and the version of the daemon it manages."""

from __future__ import annotations

import html

from layerbridge.daemon import __version__
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from .core import TrayCore

WHAT = ("Layerbridge runs diffusion models on your own GPU (or a studio's GPU server) and brings "
        "them into Photoshop and Figma: select, type a prompt, get finished layers back. This "
        "app runs the daemon, gets and manages models, pairs the Photoshop panel and the Figma "
        "plugin, and shows what the GPU is doing.")


def about_text(core: TrayCore) -> str:
    welcome = core.connection.welcome if core.connection.is_connected else None
    daemon = (f"{welcome.server.name} {welcome.server.version}, protocol {welcome.protocol}"
              if welcome is not None else "not connected")
    return (f"<h3>Layerbridge {html.escape(__version__)}</h3><p>{html.escape(WHAT)}</p>"
            f"<p><b>Manages:</b> {html.escape(core.target)}<br>"
            f"<b>Daemon:</b> {html.escape(daemon)}</p>")


class AboutDialog(QDialog):
    def __init__(self, core: TrayCore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Layerbridge")
        self.text = QLabel(about_text(core), self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setMinimumWidth(420)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
