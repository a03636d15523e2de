"""`workbench-cli pareto`: the Compare page's front, as a table, on constructed cards."""

from __future__ import annotations

import json

from engine.cli import main
from engine.store import Workspace


def _variant(ws: Workspace, name: str, accuracy: float, latency: float, size: float,
             artifacts: tuple = ()) -> None:
    run = ws.new_run(name, f"name: {name}\n")
    ws.finish(run.id, {"id": run.id, "metrics": {"accuracy": accuracy},
                       "onnx": {"latency_ms_p50": latency, "size_bytes": size},
                       "artifacts": list(artifacts)})  # fmt: skip


def test_pareto_marks_exactly_the_undominated_points(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    int8 = {"kind": "onnx-int8-dynamic", "metrics": {"accuracy": 0.70}, "latency_ms_p50": 0.5,
            "size_bytes": 1e6}
    _variant(ws, "a", 0.80, 1.0, 4e6)
    _variant(ws, "b", 0.90, 2.0, 4e6, (int8,))
    _variant(ws, "c", 0.85, 3.0, 2e6)  # slower and worse than b: dominated on latency
    assert main(["pareto", "-w", str(ws.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "accuracy"
    front = {p["label"]: p["on_front"] for p in out["points"]}
    assert front == {"b · int8-dynamic": True, "a": True, "b": True, "c": False}
    assert main(["pareto", "-w", str(ws.root), "--axis", "size"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["point", "size", "(MB)", "accuracy"]
    # on size, c (2 MB) is no longer dominated by b (4 MB); a is (same size as b, worse)
    assert [(line.split()[0], line.split()[-1]) for line in lines[1:]] == [
        ("b", "yes"), ("c", "yes"), ("b", "yes"), ("a", "-")]
