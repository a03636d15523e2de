"""Where model_parallel puts the loaded model's blocks, shown live under the split points.

Read-only: as devices and split points change, the lines under the field say which blocks go
to which device and how many parameters each device holds (the same plan the run applies,
engine.train.placement), or why the split cannot be made with this model (a split point past
its last block), which the form alone cannot know without the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel

from engine.config_fields import ConfigError
from engine.train.placement import Placement, human_params, plan_placement
from engine.train.strategy_pipeline import resolve_devices
from gui.widgets.config_form import ConfigForm, small_label

INVALID_TEXT = "placement: — (fix the fields marked in red)"
NO_MODEL_TEXT = "placement: load a model (Model page) to see which blocks go to which device"
HF_MAP_TEXT = "placement: accelerate chooses it over the devices when the run starts (hf_device_map)"


def placement_lines(plan: Placement) -> list[str]:
    """'blocks 0-5 → cuda:0 · 42.1M params · with tok_emb, pos_emb', one line per device."""
    how = "balanced by parameter count" if plan.balanced else "at the split points"
    lines = [f"placement ({how}):"]
    for k, s in enumerate(plan.stages):
        blocks = f"blocks {s.first}-{s.last}" if s.last > s.first else f"block {s.first}"
        outside = [path.rpartition(".")[2] for path, stage in plan.units if stage == k]
        with_ = f" · with {', '.join(outside)}" if outside else ""
        lines.append(f"  {blocks} → {s.device} · {human_params(s.params)} params{with_}")
    return lines


def split_preview_text(train: Any, module: Any) -> tuple[str, bool]:
    """(the preview, whether it is a problem) for a valid TrainConfig and the loaded module."""
    if train.hf_device_map:
        return HF_MAP_TEXT, False
    if module is None:
        return NO_MODEL_TEXT, False
    try:
        plan = plan_placement(module, resolve_devices(train.devices), train.split_points)
    except ConfigError as exc:
        return "placement: cannot split this model: " + "; ".join(str(e) for e in exc.errors), True
    return "\n".join(placement_lines(plan)), False


def attach_split_preview(form: ConfigForm, module: Callable[[], Any], model_changed: Any) -> QLabel:
    """Lines under `form`'s split points that follow the form and the loaded model.

    `module()` gives the loaded nn.Module (or None); `model_changed` is a signal emitted when
    the loaded model changes.
    """
    label = small_label("", "figure")
    label.setObjectName("split_preview")
    box = form.editor("split_points").parentWidget()  # hidden with the field (other strategies)
    box.layout().addWidget(label)

    def update(*_args: Any) -> None:
        value = form.value()
        if value is not None and value.strategy != "model_parallel":
            return  # hidden with the field: no plan to make
        text, problem = split_preview_text(value, module()) if value is not None \
            else (INVALID_TEXT, False)  # fmt: skip
        label.setText(text)
        if label.property("role") != ("error" if problem else "figure"):
            label.setProperty("role", "error" if problem else "figure")
            label.style().unpolish(label)  # the role's colour (red for a problem) again
            label.style().polish(label)

    form.changed.connect(update)
    model_changed.connect(update)
    update()
    return label
