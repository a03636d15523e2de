"""Tests here quiet onnxruntime's quantizer by raising the root logger's level; each test
gets the level back afterwards, so later tests (tests/engine/test_quiet.py) still see
library warnings."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _root_logging_level_restored():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for h in list(root.handlers):  # importing onnxruntime.quantization runs basicConfig
        if h not in handlers:
            root.removeHandler(h)
