"""Give a new baseline an earlier baseline's ONNX files without exporting again.

Exporting and checking a 100M+ model takes minutes; when only the data changed, the
file would come out the same. The files are hard-linked (copied where the file system
cannot link): no second copy on disk, and since every export replaces model.onnx by a
rename, re-exporting either variant later never changes the other's file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from engine.export.runtime import external_data_files


def _link_or_copy(src: Path, dst: Path) -> None:
    """Put `src` at `dst` atomically: a hard link, or a copy on file systems without them."""
    tmp = dst.with_name(f".{dst.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def reuse_onnx(src_folder: Path, src_report: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Link the ONNX file (and its external data) of `src_folder` into `folder`; the new report.

    Raises OSError (FileNotFoundError) when the source files are gone.
    """
    src = src_folder / Path(src_report["path"]).name
    if not src.is_file():
        raise FileNotFoundError(f"{src} is missing")
    folder.mkdir(parents=True, exist_ok=True)
    # data first, the graph last: whoever opens the .onnx file finds its data complete
    for data in external_data_files(src):
        _link_or_copy(data, folder / data.relative_to(src_folder))
    _link_or_copy(src, folder / src.name)
    return {**src_report, "path": str(folder / src.name)}
