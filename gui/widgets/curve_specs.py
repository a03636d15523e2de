"""What the Run page plots: which metric goes to which plot, in what colour and style."""

from __future__ import annotations

TARGET = "sparsity/target"

# metric name -> (plot key, legend label, colour, draw points as symbols)
CURVES: dict[str, tuple[str, str, str, bool]] = {
    "train/loss": ("loss", "train loss", "#1f77b4", False),
    "val/loss": ("loss", "val loss", "#ff7f0e", True),
    "val/accuracy": ("val", "val accuracy", "#2ca02c", True),
    "val/perplexity": ("val", "val perplexity", "#9467bd", True),
    "sparsity/overall": ("sparsity", "overall", "#d62728", True),  # few points: show them
    TARGET: ("sparsity", "target", "#222222", False),
    # a distill step's teacher-student top-1 match: a rate, not a loss, so not on the loss plot
    "train/loss/agreement": ("val", "teacher agreement (top-1)", "#e377c2", False),
    # the teacher's own validation metric, measured once before a distill step trains: the
    # mark the student is trained towards, drawn dashed across the run
    "teacher/val/accuracy": ("val", "teacher accuracy", "#2ca02c", False),
    "teacher/val/perplexity": ("val", "teacher perplexity", "#9467bd", False),
    # the training setup's row (shown once its first value arrives): what precision,
    # accumulation, clipping and checkpointing do to the run
    "train/grad_norm": ("grad", "grad norm (before clipping)", "#8c564b", False),
    "throughput/tokens_per_s": ("speed", "tokens/s", "#17becf", False),
    "memory/peak_mb": ("memory", "peak GPU memory (allocated)", "#d62728", False),
    "memory/peak_rss_mb": ("memory", "peak process RSS", "#d62728", False),
    "train/loss_scale": ("scale", "fp16 loss scale", "#393b79", False),
}
SKIPPED_STEPS = "train/skipped_steps"  # fp16 steps skipped so far: in the loss-scale plot's title
SETUP_PLOTS = ("grad", "speed", "memory", "scale")
TEACHER = frozenset({"teacher/val/accuracy", "teacher/val/perplexity"})
# Masks change only at update steps, so sparsity holds flat in between: these curves are
# drawn as steps and carried on to the newest step of the run. The target is announced
# for the whole run at the start, so it is drawn dashed: it is where the run is going.
STEP_CURVES = frozenset({"sparsity/overall", TARGET, *TEACHER})
DASHED = frozenset({TARGET, *TEACHER})
# past runs, one colour each (none of the live curves' colours)
HISTORY_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939")
PLOT_TITLES = {"loss": "Loss", "val": "Validation metric", "sparsity": "Sparsity: overall vs target",
               "grad": "Gradient norm", "speed": "Throughput (tokens/s)", "memory": "Peak memory (MB)",
               "scale": "fp16 loss scale"}


# components of the training objective (train/loss/<part>, e.g. kd, hidden, task): lines on
# the loss plot, one colour each, picked from the name so a part keeps its colour across runs
LOSS_PART = "train/loss/"
PART_COLORS = ("#17becf", "#e377c2", "#8c564b", "#bcbd22", "#393b79", "#637939")
KNOWN_PARTS = {"task": PART_COLORS[0], "kd": PART_COLORS[1], "hidden": PART_COLORS[2],
               "attention": PART_COLORS[3]}  # distillation's parts: never the same colour


def plot_key(name: str) -> str:
    """Which plot a metric goes to."""
    if name.startswith(LOSS_PART) and name not in CURVES:
        return "loss"
    return CURVES.get(name, ("sparsity" if name.startswith("sparsity/") else "val",))[0]


def is_curve(name: str) -> bool:
    """Metrics the plots draw (lr and samples/s are in the log, not plotted)."""
    return name in CURVES or name.startswith(("val/", "sparsity/", LOSS_PART))


def curve_spec(name: str) -> tuple[str, str, str, bool]:
    """(plot key, legend label, colour, draw points as symbols) for any plotted metric."""
    if name in CURVES:
        return CURVES[name]
    if name.startswith(LOSS_PART):
        part = name[len(LOSS_PART):]
        color = KNOWN_PARTS.get(part) or PART_COLORS[sum(map(ord, part)) % len(PART_COLORS)]
        return "loss", f"loss: {part}", color, False
    return plot_key(name), name, "#555555", True
