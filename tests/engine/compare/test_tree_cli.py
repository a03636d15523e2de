"""`workbench-cli tree`: the indented text tree and its --json form."""

from __future__ import annotations

import json

from engine.cli.dispatch import main
from tests.engine.compare.lineage_workspace import build


def test_tree_text_draws_branches_marks_failures_and_lists_files(tmp_path, capsys):
    root = tmp_path / "ws"
    by_name = build(root)
    assert main(["tree", "-w", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tiny-gpt (base) · baseline · 3.8 MB · 7.1 ms · perplexity 6.1 · finished"
    assert lines[1] == ("├─ prune-50 · Unstructured pruning 50% · 3.8 MB · 7.0 ms · perplexity 6.32 · "
                        "finished")
    assert lines[2].startswith("│  ├─ prune-50-distilled · Distillation")
    assert lines[3].startswith("│  └─ prune-50-kd-stopped") and "CANCELLED" in lines[3]
    assert lines[4].startswith("├─ int8 · Dynamic int8")
    assert lines[5] == "│  ├─ [file] model.onnx · onnx-fp32 · 3.8 MB · 7.2 ms · perplexity 6.1"
    assert lines[7].startswith("│  └─ [file] model.int4.onnx · onnx-int4 · 0.7 MB")
    assert lines[8].startswith("└─ prune-bad") and "FAILED (methods[0].amount must be in [0, 1)" in lines[8]
    assert len(lines) == 9 and sum(line.count("tiny-gpt (base)") for line in lines) == 1
    assert by_name["prune-bad"].status == "failed"


def test_tree_json_is_the_nested_tree(tmp_path, capsys):
    root = tmp_path / "ws"
    by_name = build(root)
    assert main(["tree", "--json", "--workspace", str(root)]) == 0
    roots = json.loads(capsys.readouterr().out)
    assert len(roots) == 1 and roots[0]["id"] == by_name["tiny-gpt (base)"].id
    kids = {c["name"]: c for c in roots[0]["children"]}
    assert kids["prune-bad"]["status"] == "failed" and kids["prune-bad"]["children"] == []
    assert [c["method"] for c in kids["int8"]["children"]] == ["onnx-fp32", "onnx-int8-dynamic", "onnx-int4"]
    assert kids["prune-50"]["children"][0]["value"] == 6.21


def test_tree_of_an_empty_workspace_says_so(tmp_path, capsys):
    assert main(["tree", "-w", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.startswith("no variants yet in ")
