"""The ONNX section of a variant card: file, checks, latency, and headline tiles."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QWidget

from engine.collapse import collapse_check, collapse_lines
from engine.metric_text import compare_metric, fmt_delta, fmt_metric
from engine.shrink import shrink_report
from gui.widgets.anatomy_header import StatTile
from gui.widgets.variant_metrics import PARITY_TOLERANCE

GOOD, BAD, MUTED = "#2e7d32", "#c62828", "#666"
ZWSP = "\u200b"  # zero-width space: a line-break opportunity that shows nothing
ROWS = (
    ("path", "File"),
    ("size", "Size"),
    ("opset", "Opset / exporter"),
    ("checker", "ONNX checker"),
    ("max_diff", "Parity |ONNX − PyTorch|"),
    ("top1", "Top-1 agreement"),
    ("latency", "Latency (onnxruntime)"),
    ("provider", "Provider"),
)  # size and speed against the parent: the shrink card beside this one


def _colored(text: str, ok: bool | None) -> str:
    color = MUTED if ok is None else GOOD if ok else BAD
    return f"<span style='color:{color}; font-weight:600'>{text}</span>"


def _shape(shape: Any) -> str:
    return "×".join(str(d) for d in shape) if isinstance(shape, (list, tuple)) and shape else "?"


def describe_onnx(onnx: dict[str, Any]) -> dict[str, str]:
    """Rich-text value per row key for one `onnx` card section."""
    size = onnx.get("size_bytes")
    diff = onnx.get("max_abs_diff")
    top1 = onnx.get("top1_agreement")
    p50, p95 = onnx.get("latency_ms_p50"), onnx.get("latency_ms_p95")
    checker = (
        _colored("✔ passed", True)
        if onnx.get("checker_ok")
        else _colored(f"✘ {onnx.get('checker_message') or 'failed'}", False)
    )
    if isinstance(diff, (int, float)):
        verdict = "within" if diff <= PARITY_TOLERANCE else "above"
        parity = _colored(f"{diff:.2e}", diff <= PARITY_TOLERANCE) + (
            f" <span style='color:{MUTED}'>({verdict} tolerance {PARITY_TOLERANCE:g})</span>"
        )
    else:
        parity = _colored("not measured", None)
    agreement = _colored(f"{top1:.1%}", top1 >= 0.99) if isinstance(top1, (int, float)) else "–"
    latency = (
        f"<b>p50 {p50:.2f} ms</b> · p95 {p95:.2f} ms "
        f"<span style='color:{MUTED}'>(input {_shape(onnx.get('latency_shape'))})</span>"
        if isinstance(p50, (int, float)) and isinstance(p95, (int, float))
        else _colored("not measured", None)
    )
    exporter = onnx.get("exporter")
    return {
        "path": onnx.get("path") or "–",
        "size": f"<b>{size / 1e6:.2f} MB</b>" if isinstance(size, (int, float)) else "–",
        "opset": f"{onnx.get('opset', '?')}" + (f" · {exporter}" if exporter else ""),
        "checker": checker,
        "max_diff": parity,
        "top1": agreement,
        "latency": latency,
        "provider": onnx.get("provider") or "–",
    }


class OnnxCard(QFrame):
    """Label/value grid; `values[key]` is the QLabel for each row (tests read them)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("onnxCard")
        self.setStyleSheet(
            "#onnxCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 10, 10, 10)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(8)
        self.captions: dict[str, QLabel] = {}
        self.values: dict[str, QLabel] = {}
        for row, (key, caption) in enumerate(ROWS):
            cap = QLabel(caption)
            cap.setStyleSheet(f"color: {MUTED};")
            cap.setToolTip("max |ONNX − PyTorch| over the parity batches" if key == "max_diff" else "")
            value = QLabel()
            value.setTextFormat(Qt.TextFormat.RichText if key != "path" else Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            grid.addWidget(cap, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1, Qt.AlignmentFlag.AlignTop)
            self.captions[key], self.values[key] = cap, value
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(len(ROWS), 1)  # rows stay together at the top of a tall card

    def show_card(self, card: dict[str, Any], parent_card: dict[str, Any] | None) -> None:
        """Fill from a variant card's `onnx` section (the parent is compared in ShrinkCard)."""
        texts = describe_onnx(card.get("onnx") or {})
        for key, label in self.values.items():
            text = texts.get(key, "–")
            # a path has no spaces to wrap at: let it break after each '/' in a narrow column
            label.setText(text.replace("/", "/" + ZWSP) if key == "path" else text)
            visible = bool(texts.get(key))
            label.setVisible(visible)
            self.captions[key].setVisible(visible)

    def text(self, key: str) -> str:
        """Plain text of one value (markup stripped), for tests and copying."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.values[key].text())
        return doc.toPlainText().replace(ZWSP, "")


class OnnxTiles(QFrame):
    """Headline numbers of an export: size, checker, parity, p50, speed-up vs parent."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles = {
            key: StatTile(caption)
            for key, caption in (
                ("size", "ONNX size"),
                ("checker", "Checker"),
                ("parity", "Parity max |diff|"),
                ("p50", "Latency p50"),
                ("speedup", "Speed vs parent"),
                ("metric", "Metric"),
            )
        }
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setHorizontalSpacing(22)
        for col, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, 0, col)
        grid.setColumnStretch(len(self.tiles), 1)

    def show_card(self, card: dict[str, Any], parent_card: dict[str, Any] | None) -> None:
        onnx = card.get("onnx") or {}
        p_onnx = (parent_card or {}).get("onnx") or {}
        size, diff, p50 = onnx.get("size_bytes"), onnx.get("max_abs_diff"), onnx.get("latency_ms_p50")
        t = self.tiles
        t["size"].set(f"{size / 1e6:.2f} MB" if size else "–")
        ok = bool(onnx.get("checker_ok"))
        t["checker"].set(_colored("✔ passed" if ok else "✘ failed", ok), onnx.get("checker_message", ""))
        t["parity"].set(
            _colored(f"{diff:.1e}", diff <= PARITY_TOLERANCE) if isinstance(diff, (int, float)) else "–",
            f"tolerance {PARITY_TOLERANCE:g}",
        )
        t["p50"].set(f"{p50:.2f} ms" if isinstance(p50, (int, float)) else "–")
        p_p50 = p_onnx.get("latency_ms_p50")
        if p50 and p_p50:
            # green only for a speed-up the shrink report believes: not noise, not zeros alone
            r = shrink_report(card, parent_card)
            real = r["outcome"] in ("smaller_faster", "faster")
            zeros = r["outcome"] == "zip_only" or (r["outcome"] == "none" and r["params_present"] == r["params_dense"])
            note = ("noise" if r["latency_noise"] or zeros else "slower" if r["speedup"] < 1 else "")
            # the report's speed-up: timed side by side with the parent when the deploy stage did
            t["speedup"].set(
                _colored(f"{r['speedup']:.2f}×", real or None) + (" <span style='color:#888; "
                f"font-size:10pt; font-weight:400'>{note}</span>" if note and not real else ""),
                r.get("size_verdict") or r["verdict"],
            )
        else:
            t["speedup"].set(_colored("n/a", None), "needs a parent with an ONNX export")
        m = compare_metric(card, parent_card)
        c = collapse_check(card, parent_card)
        if m is not None and c is not None and c["collapsed"]:  # the model no longer works
            t["metric"].caption.setText(m["name"].upper())
            t["metric"].set(_colored(f"✘ {fmt_metric(m['name'], m['value'])} ({c['change']})", False),
                            "\n".join(collapse_lines(c)))
        elif m is not None:
            color = {"lost": False, "gained": True}.get(m["change"])
            t["metric"].caption.setText(m["name"].upper())
            t["metric"].set(
                f"{fmt_metric(m['name'], m['value'])} "
                + _colored(f"({fmt_delta(m['name'], m['delta'])})", color),
                f"{m['name']} {fmt_metric(m['name'], m['value'])}; in brackets the change against "
                f"the parent's {fmt_metric(m['name'], m['parent_value'])}",
            )
        else:
            t["metric"].caption.setText("METRIC")
            t["metric"].set(_colored("n/a", None), "needs a parent with the same metric")
