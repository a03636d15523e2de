"""`workbench-cli inspect`: a model's anatomy without a job, table-driven through main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.cli import main
from tests.engine.test_data_new_head import write_sentiment
from tests.engine.test_models_hf import make_bert


class Convs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    make_bert(root / "bare", num_labels=None)
    make_bert(root / "headed", num_labels=2)
    torch.save(Convs(), root / "convs.pt")
    write_sentiment(root / "reviews.csv")
    (root / "recipe.yaml").write_text(
        f"name: r\nmodel: {{source: hf, path: {root / 'bare'}}}\n"
        f"data: {{source: labelled, path: {root / 'reviews.csv'}}}\n", encoding="utf-8")
    (root / "notes.txt").write_text("not a model", encoding="utf-8")
    return root


# (argv with {root} for the files' folder, exit code, texts on stdout, texts on stderr)
CASES = [
    (["tiny-gpt"], 0, ["task:       causal-lm", "input_ids [1, 128] int64",
                       "FLOPs per forward at input shape [1, 128]", "Linear", "ByteTokenizer"], []),
    (["tiny-gpt", "--seq", "32"], 0, ["at input shape [1, 32]"], []),
    (["tiny-bert"], 0, ["classification, 5 classes"], []),
    (["{root}/headed"], 0, ["classification, 2 classes", "BertTokenizer", "Embedding"], []),
    (["{root}/bare", "--num-labels", "3"], 0, ["classification, 3 classes"], []),
    (["{root}/recipe.yaml"], 0, ["classification, 3 classes"], []),  # sized by its CSV
    (["{root}/convs.pt", "--trust", "--input-shape", "1,3,16,16"], 0,
     ["task:       generic", "input [1, 3, 16, 16] float32", "Conv2d"], []),
    (["{root}/bare"], 2, [], ["cannot tell what", "--num-labels"]),
    (["{root}/convs.pt", "--trust"], 2, [], ["--input-shape"]),
    (["{root}/convs.pt", "--input-shape", "1,3,16,16"], 2, [], ["trust"]),
    (["{root}/missing"], 2, [], ["no such file or folder, and not a built-in model"]),
    (["{root}/notes.txt"], 2, [], ["unknown model file type"]),
    (["{root}/nowhere.yaml"], 2, [], ["nowhere.yaml"]),
]


@pytest.mark.parametrize(("argv", "code", "out", "err"), CASES,
                         ids=[" ".join(c[0]).replace("{root}/", "") for c in CASES])
def test_inspect(files, capsys, argv, code, out, err):
    rc = main(["inspect", *(a.replace("{root}", str(files)) for a in argv)])
    captured = capsys.readouterr()
    assert rc == code, captured.err
    for text in out:
        assert text in captured.out
    for text in err:
        assert text in captured.err
    if code:  # bad input: one line, no traceback
        assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")


def test_inspect_json_has_the_numbers(files, capsys):
    assert main(["inspect", "tiny-gpt", "--json", "--seq", "16"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == sum(t["params"] for t in info["layer_types"]) == 875_776
    assert info["flops_input_shape"] == [1, 16] and info["flops"] > 0
    assert sum(t["flops"] for t in info["layer_types"]) == info["flops"]  # other ops included
    assert info["bytes"] >= 4 * info["params"]
    assert [i["name"] for i in info["inputs"]] == ["input_ids", "attention_mask"]
    assert info["task"] == "causal-lm" and info["tokenizer"].startswith("ByteTokenizer")


def test_bad_input_shape_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["inspect", "tiny-gpt", "--input-shape", "a,b"])
    assert exit_.value.code == 2
    assert "is not a shape like 1,3,32,32" in capsys.readouterr().err
