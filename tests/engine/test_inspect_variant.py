"""`workbench-cli inspect VARIANT`: the Model page's Variant menu, headless."""

from __future__ import annotations

import json

from engine.cli import main
from engine.store import Workspace


def test_inspect_a_stored_variant_by_name_and_id(finished_job, capsys):
    ws, result, _ = finished_job
    v = Workspace(ws).get(result.run_id)
    for target in (v.name, v.id):
        assert main(["inspect", target, "-w", str(ws), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["source"] == f"variant:{v.id}"
        # the pruned variant's stored weights (half zero), not the built-in model it came from
        assert info["nonzero_params"] == v.card["model"]["nonzero_params"] < info["params"]
