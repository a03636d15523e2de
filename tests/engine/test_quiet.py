"""Harmless library warnings are not printed by workbench-cli; errors are printed once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.test_models_hf import make_bert

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("_C_mxfp8", "Failed to load", "is an Enum subclass", "torch_dtype` is deprecated")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


def test_a_hugging_face_model_run_prints_no_library_noise(tmp_path):
    # transformers imports torchao, whose optional kernel binaries fail to load here: without
    # engine.quiet that prints "Failed to load .../torchao/_C_mxfp8...so" on every run
    make_bert(tmp_path / "bert", num_labels=2)
    (tmp_path / "r.yaml").write_text(
        "name: quiet\nmodel: {source: hf, path: bert}\ndata: {source: none}\n"
        "train: {epochs: 0}\nexport: {enabled: false}\n", encoding="utf-8")
    done = cli("run", "r.yaml", "--workspace", str(tmp_path / "ws"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for text in NOISE:
        assert text not in done.stderr
    assert "model: bert: BertForSequenceClassification" in done.stderr  # progress still shown


def test_a_failed_run_prints_its_error_once(tmp_path):
    (tmp_path / "r.yaml").write_text("name: bad\nmodel: {source: hf, path: nowhere}\n",
                                     encoding="utf-8")
    done = cli("run", "r.yaml", "--workspace", str(tmp_path / "ws"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("model file not found: nowhere") == 1
    assert done.stderr.rstrip().splitlines()[-1] == "error: model.path: model file not found: nowhere"


def test_filters_drop_only_the_named_messages():
    from engine.quiet import install

    install()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("torchao")
    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning("Failed to load /x/site-packages/torchao/_C_mxfp8.cpython-310-x86_64.so: no")
        logger.warning("a real torchao problem")
    finally:
        logger.removeHandler(handler)
    assert seen == ["a real torchao problem"]
