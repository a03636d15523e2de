"""export_and_check in a child process, so a GUI process's event loop keeps running.

torch.onnx.export, onnx serialization and onnxruntime session creation hold the GIL
for hundreds of milliseconds at a time; run in a worker thread, they freeze the GUI
thread just as long. In a child process they hold the child's GIL instead.

The module and inputs go to the child as one torch.save file in a private temp
folder; the child answers with JSON lines (log messages, then the report or the
error). The parent polls `checkpoint` while it waits, so a cancel kills the child at
once, and the child exits by itself when its parent dies (its stdin closes).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from engine.export.errors import ExportError, first_line
from engine.export.report import ExportReport, export_and_check
from engine.recipe import ExportConfig

POLL_S = 0.1  # how often a waiting parent looks at cancel/pause


def _no_log(message: str) -> None:
    pass


def _no_checkpoint() -> None:
    pass


def export_and_check_isolated(
    module: nn.Module,
    input_names: Sequence[str],
    example_inputs: tuple[Tensor, ...],
    parity_batches: list[tuple[Tensor, ...]],
    latency_inputs: tuple[Tensor, ...],
    path: str | Path,
    cfg: ExportConfig,
    log: Callable[[str], None] = _no_log,
    checkpoint: Callable[[], None] = _no_checkpoint,
) -> ExportReport:
    """export_and_check run by a child Python; in this process when the module cannot be pickled."""
    with tempfile.TemporaryDirectory(prefix="workbench-export-") as tmp:
        payload = Path(tmp) / "payload.pt"
        try:
            torch.save(
                {"module": module, "input_names": list(input_names), "example_inputs": tuple(example_inputs),
                 "parity": list(parity_batches), "latency": tuple(latency_inputs), "path": str(path),
                 "cfg": cfg},
                payload,
            )  # fmt: skip
        except Exception as exc:  # e.g. a module class defined in a script: not importable there
            log(f"ONNX export in this process ({first_line(str(exc)) or type(exc).__name__})")
            return export_and_check(module, input_names, example_inputs, parity_batches,
                                    latency_inputs, path, cfg, log=log)
        return _run_child(payload, Path(tmp) / "stderr.txt", log, checkpoint)


def _child_env() -> dict[str, str]:
    """This environment, with the folder holding `engine` first on the child's path."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run_child(payload: Path, err_path: Path, log: Callable[[str], None],
               checkpoint: Callable[[], None]) -> ExportReport:
    """Start the child, relay its log lines, return its report (ExportError on its error)."""
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.export.isolated", str(payload)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=_child_env(),
        )  # fmt: skip
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, name="export-child-reader", daemon=True).start()
    answer: dict[str, Any] = {}
    try:
        while True:
            checkpoint()  # raises JobCancelled after a cancel: the finally below kills the child
            try:
                raw = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if raw is None:
                break
            msg = _parse(raw)
            if "log" in msg:
                log(str(msg["log"]))
            else:
                answer = msg
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdin:
            proc.stdin.close()
    if "report" in answer:
        if code != 0:  # the answer stands; say so rather than hide a crash at the child's exit
            log(f"(the ONNX export process answered, then ended with code {code})")
        d = dict(answer["report"])
        d["latency_shape"] = tuple(d["latency_shape"]) if d.get("latency_shape") is not None else None
        return ExportReport(**d)
    if "error" in answer:
        raise ExportError(str(answer["error"]))
    tail = [s for s in err_path.read_text("utf-8", "replace").splitlines() if s.strip()]
    raise ExportError(f"the ONNX export process ended with code {code}"
                      + (f": {tail[-1]}" if tail else ""))


def _parse(raw: bytes) -> dict[str, Any]:
    """One line of the child's answer; anything else a library printed is kept as a log line."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        return {"log": text}
    return msg if isinstance(msg, dict) else {"log": text}


# -- the child -----------------------------------------------------------------------
def _exit_when_parent_dies() -> None:
    """The parent holds our stdin open; EOF means it is gone (killed, crashed or done).

    Reads the raw descriptor: a daemon thread blocked in sys.stdin's buffered read holds that
    buffer's lock, and the interpreter aborted at exit trying to take it (SIGABRT, a core dump).
    """
    while os.read(0, 65536):
        pass
    os._exit(1)


def child_main(payload: str) -> int:
    """Run export_and_check on the payload; answer on the original stdout as JSON lines."""
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # a library's print must not interleave with the answer
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()

    def say(**msg: Any) -> None:
        answer.write(json.dumps(msg) + "\n")

    # our own file, written a moment ago into a private temp folder by our parent; mapped,
    # not read, so the weights are clean file pages the kernel can drop and re-read rather
    # than a second anonymous copy of the parent's model
    p = torch.load(payload, weights_only=False, mmap=True)
    try:
        report = export_and_check(p["module"], p["input_names"], p["example_inputs"], p["parity"],
                                  p["latency"], p["path"], p["cfg"], log=lambda m: say(log=m))
    except Exception as exc:
        say(error=str(exc) or type(exc).__name__)
        return 1
    say(report=report.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
