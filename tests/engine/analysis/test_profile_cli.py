"""workbench-cli profile: a built-in (printed, nothing stored), a finished variant (stored with
its ONNX file), the record's contract keys, and bad input as one line with exit 2."""

from __future__ import annotations

import json

import pytest

from engine.analysis.profile_store import PROFILE_FILE, load_profile
from engine.cli.dispatch import main

QUICK = ["--runs", "2", "--threads", "1", "--seq", "16", "--sweep-batches", "1",
         "--sweep-seqs", "8", "--sweep-runs", "2", "--energy-seconds", "0.05"]  # fmt: skip
KEYS = {"schema", "created", "model", "settings", "machine", "layers", "groups", "op_types",
        "whole_ms", "memory", "onnx", "latency", "energy"}  # fmt: skip


def _contract(record: dict) -> None:
    assert set(record) == KEYS and record["schema"] == 1
    assert set(record["model"]) == {"description", "task", "params", "flops"}
    assert set(record["settings"]) == {"batch", "seq", "device", "threads", "runs"}
    assert set(record["machine"]) == {"device", "cpu", "threads", "matmul_gflops", "copy_gbps",
                                      "ridge_flops_per_byte"}  # fmt: skip
    assert {"name", "type", "group", "flops", "bytes_moved", "time_ms", "share", "gflops",
            "intensity", "bound"} <= set(record["layers"][0])  # fmt: skip
    assert {"group", "time_ms", "flops", "intensity", "bound", "verdict"} <= set(record["groups"][0])
    assert {"op", "time_ms", "count"} == set(record["op_types"][0])
    assert {"params_mb", "buffers_mb", "activation_peak_mb", "peak_source",
            "kv_cache"} == set(record["memory"])  # fmt: skip


def test_profile_a_builtin_prints_the_record_and_stores_nothing(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["profile", "tiny-gpt", "--json", "-w", str(ws), "--kv-context", "100", *QUICK]) == 0
    record = json.loads(capsys.readouterr().out)
    _contract(record)
    assert record["settings"]["seq"] == 16 and record["settings"]["threads"] == 1
    assert record["memory"]["kv_cache"]["context"] == 100
    assert record["onnx"] == [] and {r["artifact"] for r in record["latency"]} == {"pytorch"}
    assert record["energy"][0]["label"] in ("measured", "estimated")
    assert not ws.exists()  # a model path or built-in is never stored (no workspace made)


def test_profile_a_finished_variant_stores_profile_json_with_its_onnx_file(finished_job, capsys):
    ws, result, _ = finished_job
    assert main(["profile", result.run_id, "-w", str(ws), *QUICK]) == 0
    out = capsys.readouterr().out
    assert "slowest layers" in out and "KV cache:" in out and PROFILE_FILE in out
    from engine.store import Workspace

    record = load_profile(Workspace(ws), result.run_id)
    _contract(record)
    assert (ws / "runs" / result.run_id / PROFILE_FILE).is_file()
    assert [o["artifact"] for o in record["onnx"]] == ["onnx-fp32"]
    assert record["onnx"][0]["op_types"] and record["onnx"][0]["whole_ms"] > 0
    assert {r["artifact"] for r in record["latency"]} == {"pytorch", "onnx-fp32"}
    assert {e["artifact"] for e in record["energy"]} == {"pytorch", "onnx-fp32"}
    assert record["model"]["description"].startswith("variant tiny-prune")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["no-such-model"], "no-such-model"),
        (["tiny-gpt", "--batch", "0"], "--batch"),
        (["tiny-gpt", "--runs", "0"], "--runs"),
        (["tiny-gpt", "--sweep-seqs", "0,4"], "--sweep-seqs"),
        (["tiny-gpt", "--cpu-watts", "0"], "--cpu-watts"),
    ],
)
def test_bad_input_is_one_line_naming_it(tmp_path, capsys, args, named):
    assert main(["profile", *args, "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and named in err


def test_a_damaged_profile_json_is_one_line(tmp_path):
    from engine.store import Workspace

    ws = Workspace(tmp_path)
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / PROFILE_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="profile.json: not a profile"):
        load_profile(ws, "r1")
    assert load_profile(ws, "r2") is None


def test_an_unknown_name_in_a_workspace_says_where_it_looked(finished_job, capsys):
    ws, _, _ = finished_job
    assert main(["profile", "no-such-variant", "-w", str(ws)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no finished variant" in err and str(ws.resolve()) in err and "tiny-gpt" in err
