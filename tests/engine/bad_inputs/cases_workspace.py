"""Broken workspaces and wrong command lines: one line naming the file, never a traceback."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.engine.bad_inputs.common import Case


def _list(ws: Path) -> list[str]:
    return ["list", "-w", str(ws)]


def _db(ws: Path) -> Path:
    (ws / "runs").mkdir(parents=True, exist_ok=True)
    return ws / "workspace.sqlite"


def _garbage_db(tmp: Path, ws: Path) -> list[str]:
    _db(ws).write_bytes(b"this is not a database at all\n" * 200)
    return _list(ws)


def _truncated_db(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    good = Workspace(tmp / "good")
    for i in range(30):  # enough rows for several pages, so a cut lands inside the data
        good.finish(good.new_run(f"v{i}", "name: v\n" + "x" * 3000).id, {"id": "v", "n": i})
    data = good.db_path.read_bytes()
    _db(ws).write_bytes(data[: len(data) // 2])
    return _list(ws)


def _foreign_db(tmp: Path, ws: Path) -> list[str]:
    with sqlite3.connect(_db(ws)) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    return _list(ws)


def _wrong_columns(tmp: Path, ws: Path) -> list[str]:
    with sqlite3.connect(_db(ws)) as db:
        db.execute("CREATE TABLE variants (id TEXT, colour TEXT)")
    return _list(ws)


def _newer_schema(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    Workspace(ws)
    with sqlite3.connect(ws / "workspace.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    return _list(ws)


def _db_is_folder(tmp: Path, ws: Path) -> list[str]:
    _db(ws).mkdir()
    return _list(ws)


def _runs_is_file(tmp: Path, ws: Path) -> list[str]:
    ws.mkdir()
    (ws / "runs").write_text("not a folder")
    return _list(ws)


def _ws_is_file(tmp: Path, ws: Path) -> list[str]:
    ws.write_text("a file where the workspace should be")
    return _list(ws)


def _recipe_into(tmp: Path, ws: Path, make) -> list[str]:
    from tests.engine.conftest import TINY_RECIPE

    make(tmp, ws)
    (tmp / "ok.yaml").write_text(TINY_RECIPE)
    return ["run", str(tmp / "ok.yaml"), "-w", str(ws), "-q"]


def _show(ident: str):
    return lambda tmp, ws: ["show", ident, "-w", str(ws)]


def _resume_finished(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    run = next(v for v in Workspace(ws).variants() if v.name == "tiny-prune")
    return ["resume", run.id, "-w", str(ws)]


def _mark_finished(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    run = Workspace(ws).variants()[0]
    return ["mark-crashed", run.id, "-w", str(ws)]


def _sensitivity(*extra: str):
    def build(tmp: Path, ws: Path) -> list[str]:
        from tests.engine.conftest import TINY_RECIPE

        (tmp / "s.yaml").write_text(TINY_RECIPE)
        return ["sensitivity", str(tmp / "s.yaml"), "-w", str(ws), *extra]

    return build


def _copy_then(make):
    def build(tmp: Path, ws: Path) -> list[str]:
        shutil.rmtree(ws / "runs")
        return make(tmp, ws)

    return build


def _verb(*argv: str):
    return lambda tmp, ws: [*argv, "-w", str(ws)]


def _running_then(verb: str, *extra: str):
    """A run registered by this process (its lock held: live), then `verb` on it."""

    def build(tmp: Path, ws: Path) -> list[str]:
        from engine.store import Workspace

        run = Workspace(ws).new_run("busy", "name: busy\n")
        return [verb, run.id, *extra, "-w", str(ws)]

    return build


def _second_named(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    store = Workspace(ws)
    twin = store.new_run("tiny-prune", "name: tiny-prune\n")
    store.mark(twin.id, "cancelled", "cancelled by the user")
    return ["delete", "tiny-prune", "-w", str(ws)]


def _csv_onto_folder(tmp: Path, ws: Path) -> list[str]:
    (tmp / "out").mkdir()
    return ["export-csv", str(tmp / "out"), "-w", str(ws)]


CASES = [
    Case("workspace.sqlite is garbage", _garbage_db, "workspace.sqlite is damaged or not a workspace database", workspace="own"),
    Case("workspace.sqlite truncated", _truncated_db, "workspace.sqlite is damaged", workspace="own"),
    Case("workspace.sqlite of another program", _foreign_db, "workspace.sqlite is a database of another program", workspace="own"),
    Case("variants table of another shape", _wrong_columns, "lacks", workspace="own"),
    Case("workspace from a newer version", _newer_schema, "was written by a newer workbench", workspace="own"),
    Case("workspace.sqlite is a folder", _db_is_folder, "workspace.sqlite is a folder", workspace="own"),
    Case("runs/ is a file", _runs_is_file, "runs is a file", workspace="own"),
    Case("workspace is a file", _ws_is_file, "is a file; give a folder path", workspace="own"),
    Case("run into a garbage workspace", lambda t, w: _recipe_into(t, w, _garbage_db), "workspace.sqlite is damaged", workspace="own"),
    Case("run into a foreign database", lambda t, w: _recipe_into(t, w, _foreign_db), "another program", workspace="own"),
    Case("show an unknown variant", _show("nope"), "no variant named or numbered 'nope'"),
    Case("resume an unknown run", lambda t, w: ["resume", "nope", "-w", str(w)], "no run 'nope'"),
    Case("resume a finished run", _resume_finished, "is finished; only a cancelled"),
    Case("mark a finished run crashed", _mark_finished, "is finished, not running"),
    Case("sensitivity levels not numbers", _sensitivity("--levels", "a,b"), "--levels must be comma-separated"),
    Case("sensitivity target 2", _sensitivity("--target", "2"), "target"),
    Case("delete an unknown variant", _verb("delete", "nope"), "no variant named or numbered 'nope'"),
    Case("rename an unknown variant", _verb("rename", "nope", "new"), "no variant named or numbered 'nope'"),
    Case("rename to an empty name", _verb("rename", "tiny-prune", "  "), "name is empty"),
    Case("rename to two lines", _verb("rename", "tiny-prune", "a\nb"), "name must be one line"),
    Case("rename to a 300-character name", _verb("rename", "tiny-prune", "x" * 300), "at most 200 characters"),
    Case("rename to a name in use", _verb("rename", "tiny-prune", "tiny-gpt (base)"), "is already used by variant"),
    Case("delete a running variant", _running_then("delete"), "is running", workspace="copy"),
    Case("rename a running variant", _running_then("rename", "new"), "is running", workspace="copy"),
    Case("delete by a name two variants have", _second_named, "2 variants are named 'tiny-prune'", workspace="copy"),
    Case("export-csv into a missing folder", lambda t, w: ["export-csv", str(t / "no" / "v.csv"), "-w", str(w)], "does not exist"),
    Case("export-csv onto a folder", _csv_onto_folder, "is a folder; give a file name"),
    Case("control of an unknown variant", _verb("control", "nope"), "no variant named or numbered 'nope'"),
]
