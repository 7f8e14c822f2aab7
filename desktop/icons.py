"""The tray icon, painted (no image files): a rounded square whose colour says the state, with
the queue length as a badge when busy."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

from .traystate import Look, TrayStatus

COLOURS = {
    Look.STOPPED: "#8a8f98",
    Look.STARTING: "#d6a21e",
    Look.IDLE: "#2e9e5b",
    Look.BUSY: "#2f6fde",
    Look.PAUSED: "#7b5cc4",
    Look.ERROR: "#d64545",
}


def pixmap(status: TrayStatus, size: int = 64) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(COLOURS[status.look])
    m = size * 0.06
    body = QRectF(m, m, size - 2 * m, size - 2 * m)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawRoundedRect(body, size * 0.22, size * 0.22)
    # two stacked "layers": the bridge between the canvas and the model
    p.setBrush(QColor(255, 255, 255, 235))
    w, h = size * 0.46, size * 0.16
    for i, dy in enumerate((0.30, 0.52)):
        p.setOpacity(1.0 if i else 0.65)
        p.drawRoundedRect(QRectF(size * 0.2 + i * size * 0.08, size * dy, w, h), 3, 3)
    p.setOpacity(1.0)
    if status.look is Look.PAUSED:  # two bars: the pause sign
        p.setOpacity(1.0)
        p.setBrush(QColor("#ffffff"))
        p.setPen(QPen(colour, size * 0.04))
        r = size * 0.42
        p.drawEllipse(QRectF(size - r, size - r, r, r))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        bar_w, bar_h = r * 0.16, r * 0.5
        for dx in (-0.14, 0.14):
            cx = size - r / 2 + dx * r
            p.drawRect(QRectF(cx - bar_w / 2, size - r / 2 - bar_h / 2, bar_w, bar_h))
    elif status.look is Look.BUSY and status.queue:
        r = size * 0.46
        badge = QRectF(size - r, size - r, r, r)
        p.setBrush(QColor("#ffffff"))
        p.setPen(QPen(colour, size * 0.05))
        p.drawEllipse(badge)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(r * (0.62 if status.queue < 10 else 0.45)))
        p.setFont(font)
        p.setPen(colour)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(min(status.queue, 99)))
    elif status.look is Look.ERROR:
        pen = QPen(QColor("#ffffff"), size * 0.08)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.drawLine(int(size * 0.78), int(size * 0.62), int(size * 0.78), int(size * 0.74))
        p.drawPoint(int(size * 0.78), int(size * 0.86))
    p.end()
    return pm


def icon(status: TrayStatus) -> QIcon:
    result = QIcon()
    for size in (16, 22, 32, 48, 64):
        result.addPixmap(pixmap(status, size))
    return result
