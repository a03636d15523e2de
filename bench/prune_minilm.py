"""Pruning on a real model: MiniLM (all-MiniLM-L6-v2) + a 5-class head on BBC News.

Prints, from one run:
1. requested vs reached sparsity for every pruning method (one-shot, on the real model);
2. accuracy of the dense fine-tuned parent vs its pruned + fine-tuned children
   (structured 50% of FFN neurons; 70% global unstructured on a gradual schedule);
3. onnxruntime latency at batch 8 x 128 tokens of parent and children, timed
   alternately in this process, as speed-up ratios.

Targets: one-shot global 50% (foundation issue) and gradual 70% within 2 accuracy points
of dense; structured 50% FFN >= 1.5x faster than dense with accuracy within 2 points;
every method within 0.5% of its requested sparsity (N:M exactly per group).

    .venv/bin/python bench/prune_minilm.py [--workspace DIR [--reuse]] [--quick]

--quick caps fine-tuning at a few steps: it checks the bench runs, not the targets.
A full run fine-tunes MiniLM five times: about 30-40 minutes on 2 idle CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data import load_data  # noqa: E402
from engine.export import measure_latency  # noqa: E402
from engine.job import Job  # noqa: E402
from engine.methods.base import MethodContext  # noqa: E402
from engine.methods.prune.masks import overall_sparsity  # noqa: E402
from engine.models.loaders import load_model  # noqa: E402
from engine.recipe import Recipe  # noqa: E402
from engine.registry import method_config_class, method_entry, method_type_name  # noqa: E402
from engine.store import Workspace  # noqa: E402

RECIPES = ROOT / "assets" / "recipes"
BATCH, SEQ = 8, 128


def sparsity_table() -> None:
    """Every method, one-shot on the real model: requested vs reached."""
    base = Recipe.load(RECIPES / "minilm-bbc-finetune.yaml")
    unstructured = method_config_class("unstructured_prune")
    nm = method_config_class("nm_prune")
    cases = [
        ("magnitude global 50%", unstructured(amount=0.5), 0.5),
        ("magnitude layer 70%", unstructured(amount=0.7, scope="layer"), 0.7),
        ("random global 50%", unstructured(criterion="random", amount=0.5), 0.5),
        ("taylor global 50%", unstructured(criterion="taylor", amount=0.5, calibration_batches=2), 0.5),
        ("N:M 2:4", nm(n=2, m=4), 0.5),
        ("N:M 4:8", nm(n=4, m=8), 0.5),
        ("structured FFN 50%", method_config_class("structured_prune")(target="ffn", amount=0.5), 0.5),
        ("structured heads 50%", method_config_class("structured_prune")(target="heads", amount=0.5), 0.5),
    ]
    print("\n1. requested vs reached sparsity (one-shot, MiniLM encoder Linear layers)")
    print(f"   {'method':<24}{'requested':>10}{'reached':>10}{'error':>9}")
    for label, cfg, want in cases:
        loaded = load_model(base.model)
        data = load_data(dataclasses.replace(base.data, max_samples=64), loaded)
        ctx = MethodContext(loaded.module, loaded.task, data=data, batch_size=8)
        res = method_entry(method_type_name(cfg)).handler(cfg, ctx)
        got = overall_sparsity(loaded.module, res.targets)
        extra = ""
        if res.structured:  # the fraction of units (neurons, heads) physically removed
            got = res.summary["units_removed"] / res.summary["units_total"]
            extra = f"  {res.summary['units_removed']} of {res.summary['units_total']} {res.summary['unit']}"
        if label.startswith("N:M"):
            mods = dict(loaded.module.named_modules())
            ok = all(((mods[n].weight != 0).reshape(mods[n].out_features, -1, cfg.m).sum(-1) == cfg.n).all()
                     for n in res.targets)
            extra = "  every group exact" if ok else "  GROUP VIOLATION"
        print(f"   {label:<24}{want:>10.1%}{got:>10.2%}{abs(got - want):>9.3%}{extra}")


def run_recipe(name: str, ws: Path, quick: bool, reuse: bool) -> dict:
    """Run an assets/recipes recipe in `ws` (or reuse its finished variant); returns the card."""
    if reuse:
        try:
            card = Workspace(ws).resolve(name).card
            print(f"   reusing {name} from {ws}")
            return card
        except KeyError:
            pass
    recipe = Recipe.load(RECIPES / f"{name}.yaml")
    if quick:
        recipe = recipe.replace(
            train=dataclasses.replace(recipe.train, max_steps=6, eval_every=6, checkpoint_every=None),
            data=dataclasses.replace(recipe.data, max_samples=300),
        )
    print(f"   running {name} ...", flush=True)
    result = Job(recipe, workspace=ws).run()
    if not result.ok:
        raise SystemExit(f"{name} failed: {result.error}")
    return result.card


def _feeds(batch: int, seq: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, size=(batch, seq)).astype(np.int64)
    return {"input_ids": ids, "attention_mask": np.ones((batch, seq), np.int64)}


def latency_ratios(paths: dict[str, str], rounds: int = 5, runs: int = 10) -> dict[str, float]:
    """Median p50 per model, timing the models in turn `rounds` times (shared conditions)."""
    feeds = _feeds(BATCH, SEQ)
    samples: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for label, path in paths.items():
            p50, _ = measure_latency(Path(path), feeds, list(feeds), warmup=2, runs=runs)
            samples[label].append(p50)
    return {k: statistics.median(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the three parts and print their tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=None, help="run (and keep) the variants here")
    ap.add_argument("--reuse", action="store_true",
                    help="take variants already finished in --workspace instead of re-running them")
    ap.add_argument("--quick", action="store_true", help="a few steps only (checks the script)")
    ap.add_argument("--skip-sparsity", action="store_true")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    if not args.skip_sparsity:
        sparsity_table()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="bench-prune-"))
    print(f"\n2. fine-tuned accuracy on BBC News validation (workspace {ws})")
    names = ["minilm-bbc-finetune", "minilm-bbc-prune50", "minilm-bbc-gradual70",
             "minilm-bbc-structured50", "minilm-bbc-structured-heads-ffn"]
    cards = {n: run_recipe(n, ws, args.quick, args.reuse) for n in names}
    dense = cards["minilm-bbc-finetune"]["metrics"]["accuracy"]
    print(f"   {'variant':<26}{'accuracy':>9}{'vs dense':>10}{'params':>12}{'non-zero':>12}")
    for n, card in cards.items():
        acc = card["metrics"]["accuracy"]
        print(f"   {n:<26}{acc:>9.2%}{(acc - dense) * 100:>+9.2f}p"
              f"{card['model']['params']:>12,}{card['model']['nonzero_params']:>12,}")
    print(f"\n3. onnxruntime latency at batch {BATCH} x {SEQ} tokens (alternating, median of 5)")
    lat = latency_ratios({n: c["onnx"]["path"] for n, c in cards.items()})
    for n, ms in lat.items():
        print(f"   {n:<26}{ms:>9.1f} ms   speed-up vs dense {lat[names[0]] / ms:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
