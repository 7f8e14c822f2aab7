"""A training's loss per step as a line, drawn with QPainter (QtCharts is not in
PySide6-Essentials): the raw losses faint, their running average bold, since one step's loss
jumps with its random timestep and only the average shows the trend."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

SMOOTHING = 0.9  # exponential moving average, as TensorBoard's slider does it
LINE = QColor(33, 150, 243)


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """The running average, debiased at the start (so the first points are not pulled to 0)."""
    out: list[float] = []
    last = 0.0
    for n, v in enumerate(values, start=1):
        last = weight * last + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


class LossChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []  # (step, loss)
        self.steps = 0  # the x axis runs to this (the job's steps), not to the last point
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 160)

    def set_points(self, points: list[tuple[int, float]] | tuple[tuple[int, float], ...],
                   steps: int) -> None:
        points = list(points)
        if points != self.points or steps != self.steps:
            self.points, self.steps = points, steps
            self.update()

    def clear(self) -> None:
        self.set_points([], 0)

    def plot_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(44, 8, -8, -20)

    def to_pixel(self, step: float, loss: float) -> QPointF:
        """Where (step, loss) is drawn: x over 0..steps, y over the losses' range."""
        r = self.plot_rect()
        low, high = self._range()
        x = r.left() + r.width() * (step / max(self.steps or step, 1))
        y = r.bottom() - r.height() * ((loss - low) / (high - low))
        return QPointF(x, y)

    def _range(self) -> tuple[float, float]:
        losses = [loss for _, loss in self.points]
        low, high = (min(losses), max(losses)) if losses else (0.0, 1.0)
        if high - low < 1e-9:
            low, high = low - 0.5 * abs(low or 1), high + 0.5 * abs(high or 1)
        return low, high

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.plot_rect()
        text = self.palette().color(self.foregroundRole())
        p.setPen(QPen(text, 1))
        p.drawRect(r)
        if not self.points:
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "the loss appears here as the steps run")
            p.end()
            return
        low, high = self._range()
        p.drawText(QRectF(0, r.top() - 6, 40, 14), Qt.AlignmentFlag.AlignRight, f"{high:.3g}")
        p.drawText(QRectF(0, r.bottom() - 8, 40, 14), Qt.AlignmentFlag.AlignRight, f"{low:.3g}")
        p.drawText(QRectF(r.left(), r.bottom() + 2, r.width(), 16), Qt.AlignmentFlag.AlignRight,
                   f"step {self.points[-1][0]} of {self.steps}")
        faint = QColor(LINE)
        faint.setAlpha(70)
        p.setPen(QPen(faint, 1))
        p.drawPolyline(QPolygonF([self.to_pixel(s, v) for s, v in self.points]))
        average = smoothed([v for _, v in self.points])
        p.setPen(QPen(LINE, 2))
        p.drawPolyline(QPolygonF([self.to_pixel(s, v)
                                  for (s, _), v in zip(self.points, average, strict=True)]))
        p.end()
