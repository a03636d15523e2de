"""A full disk and exhausted memory: the run is recorded failed with the reason and the fix.

The disk is a real 64 MB tmpfs in a private mount namespace (`unshare -m`), filled up to a
few KB once the baseline exists; the memory limit is a real RLIMIT_AS (`prlimit --as`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.failures import describe_failure, is_out_of_memory
from engine.recipe import Recipe
from tests.engine.conftest import TINY_RECIPE

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

DRIVER = """
import json, os, subprocess, sys
mnt, recipe = sys.argv[1], sys.argv[2]
cli = [sys.executable, "-m", "engine.cli"]
ws = os.path.join(mnt, "ws")
out = {}


def fill(leave):
    st = os.statvfs(mnt)
    with open(os.path.join(mnt, "filler"), "wb") as fh:
        fh.write(b"\\1" * (st.f_bavail * st.f_frsize - leave))


fill(1536 * 1024)  # room for the index and the run folders, not for the baseline's ONNX file
base = subprocess.run(cli + ["run", recipe, "-w", os.path.join(mnt, "ws0"), "-q"], capture_output=True, text=True)
ls0 = subprocess.run(cli + ["list", "-w", os.path.join(mnt, "ws0"), "--json"], capture_output=True, text=True)
out["baseline"] = [base.returncode, base.stderr, ls0.stdout]
os.remove(os.path.join(mnt, "filler"))
first = subprocess.run(cli + ["run", recipe, "-w", ws, "-q", "--name", "first"], capture_output=True, text=True)
out["first"] = first.returncode
fill(512 * 1024)  # the baseline exists; the new run's checkpoint cannot fit
full = subprocess.run(cli + ["run", recipe, "-w", ws, "-q", "--name", "second"], capture_output=True, text=True)
out["full"] = [full.returncode, full.stderr]
ls = subprocess.run(cli + ["list", "-w", ws, "--json"], capture_output=True, text=True)
out["list"] = [ls.returncode, ls.stdout, ls.stderr]
show = subprocess.run(cli + ["show", "second", "-w", ws, "--json"], capture_output=True, text=True)
out["show"] = [show.returncode, show.stdout, show.stderr]
print(json.dumps(out))
"""


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow  # five CLI processes, 60 s on 2 cores: `make test-slow`
@pytest.mark.skipif(not _unshare_works(), reason="needs a private mount namespace (unshare -m)")
def test_full_disk_records_the_run_failed_and_list_show_still_work(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    recipe = tmp_path / "r.yaml"
    # the files are what fills the disk; fewer samples and steps only make it quicker
    recipe.write_text(TINY_RECIPE.replace("max_samples: 200", "max_samples: 48")
                      .replace("max_steps: 8", "max_steps: 2").replace("eval_every: 4", "eval_every: 2"))
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    cmd = f"mount -t tmpfs -o size=64m tmpfs {mnt} && exec {sys.executable} {script} {mnt} {recipe}"
    done = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                          cwd=ROOT, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    code, err, listed = out["baseline"]  # failed while building the baseline: exit 1, recorded
    assert code == 1 and "no space left on device" in err and "during baseline" in err, err
    assert [(v["name"], v["status"]) for v in json.loads(listed)] == [("tiny-gpt (base)", "failed")]
    assert out["first"] == 0
    code, err = out["full"]
    assert code == 1, err
    assert "no space left on device" in err and "free some disk space" in err
    assert "Traceback" not in err and "opset" not in err
    code, listed, err = out["list"]
    assert code == 0, err
    second = next(v for v in json.loads(listed) if v["name"] == "second")
    assert second["status"] == "failed"
    code, shown, err = out["show"]
    assert code == 0, err
    assert "no space left on device" in json.loads(shown)["error"]


@pytest.mark.slow  # a real out-of-memory under prlimit, 25 s: `make test-slow`
def test_out_of_memory_names_the_settings_to_lower(tmp_path):
    if not shutil.which("prlimit"):
        pytest.skip("needs prlimit (util-linux)")
    text = TINY_RECIPE.replace("max_length: 32, max_samples: 200", "max_length: 128, max_samples: 3000") \
        .replace("batch_size: 8", "batch_size: 2048").replace("max_steps: 8", "max_steps: 2")
    (tmp_path / "r.yaml").write_text(text)
    done = subprocess.run(
        ["prlimit", "--as=5000000000", sys.executable, "-m", "engine.cli", "run", str(tmp_path / "r.yaml"),
         "-w", str(tmp_path / "ws"), "-q"],
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("error:"))
    assert "out of memory during train; lower train.batch_size (2048) or data.max_length (128)" in line
    assert "alloc_cpu" not in done.stderr and "Traceback" not in done.stderr


def test_torch_allocation_failure_is_described_without_its_internals():
    with pytest.raises(RuntimeError) as caught:
        torch.empty(1 << 50, dtype=torch.uint8)  # a real failed allocation, not a made-up one
    assert is_out_of_memory(caught.value)
    recipe = Recipe.from_yaml(TINY_RECIPE)
    text = describe_failure(caught.value, recipe, "export", None)
    assert text.startswith("out of memory during export; lower export.latency_batch (1)")
