"""A whole QGraphicsScene (also what is scrolled out of view) as an image or a PNG file.

The lineage tree and the recipe flowchart are scenes, not pyqtgraph plots, so pyqtgraph's
ImageExporter does not apply; both save through here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QGraphicsScene, QMessageBox, QWidget


def scene_image(scene: QGraphicsScene, scale: float = 2.0) -> QImage:
    """The scene's whole drawing at `scale` × its size, on white."""
    rect: QRectF = scene.itemsBoundingRect().adjusted(-6, -6, 6, 6) if scene.sceneRect().isEmpty() \
        else scene.sceneRect()
    img = QImage(max(1, round(rect.width() * scale)), max(1, round(rect.height() * scale)),
                 QImage.Format.Format_ARGB32)
    img.fill(QColor("#ffffff"))
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(img.rect()), rect)
    painter.end()
    return img


def save_scene_png(scene: QGraphicsScene, path: str | Path, scale: float = 2.0) -> Path:
    """The whole drawing as a PNG file (OSError when it cannot be written)."""
    path = Path(path)
    if not scene_image(scene, scale).save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def ask_save_scene(parent: QWidget, scene: QGraphicsScene, title: str, stem: str) -> Path | None:
    """A save dialog with '<stem>.png' filled in; a failure is one line in a message box."""
    chosen, _ = QFileDialog.getSaveFileName(parent, title, str(Path.home() / f"{stem}.png"),
                                            "PNG image (*.png)")
    if not chosen:
        return None
    path = Path(chosen) if Path(chosen).suffix else Path(chosen).with_suffix(".png")
    try:
        return save_scene_png(scene, path)
    except OSError as e:
        QMessageBox.warning(parent, title, f"Could not save {path.name}: {e}. Pick another folder.")
        return None
