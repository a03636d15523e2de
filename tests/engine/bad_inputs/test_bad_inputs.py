"""A table of bad inputs, each run through the CLI's main() in-process.

Every one must give exit code 2 with exactly one `error:` line that names the field or
file, print no traceback, leave the workspace byte for byte as it was, and (for the
hostile pickles) never run the code inside.
"""

from __future__ import annotations

import shutil

import pytest

from engine.cli import main
from tests.engine.bad_inputs import (
    cases_distill,
    cases_files,
    cases_parity,
    cases_profile,
    cases_quantize,
    cases_recipe,
    cases_report,
    cases_targets,
    cases_train,
    cases_user_models,
    cases_workspace,
)
from tests.engine.bad_inputs.common import MARKER, Case, snapshot

CASES: list[Case] = [*cases_recipe.CASES, *cases_files.CASES, *cases_workspace.CASES,
                     *cases_user_models.CASES, *cases_quantize.CASES, *cases_distill.CASES,
                     *cases_train.CASES, *cases_targets.CASES, *cases_profile.CASES,
                     *cases_parity.CASES, *cases_report.CASES]


def test_the_table_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(case: Case, tmp_path, finished_job, capsys):
    shared = finished_job[0]
    if case.workspace == "shared":
        ws = shared
    else:
        ws = tmp_path / "ws"
        if case.workspace == "copy":
            shutil.copytree(shared, ws)
    files = tmp_path / "files"
    files.mkdir()
    argv = case.build(files, ws)
    capsys.readouterr()
    before = snapshot(ws)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert case.expect in errors[0], errors[0]
    assert "Traceback" not in out + err
    assert "weights_only=False" not in err  # torch's hint to run the file's code is never passed on
    assert snapshot(ws) == before
    assert not (files / MARKER).exists(), "a pickle in the input ran its code"


def test_the_lenient_forms_stay_accepted():
    """`methods: []`, a quoted lr and a one-pattern string are fine, not errors."""
    from engine.recipe import Recipe
    from tests.engine.conftest import TINY_RECIPE

    r = Recipe.from_yaml(TINY_RECIPE.replace("lr: 0.001", "lr: '1e-3'")).validate()
    assert r.train.lr == 1e-3
    assert Recipe.from_yaml("name: x\nmethods: []\n").validate().methods == ()
    one = Recipe.from_yaml(TINY_RECIPE.replace("scope: global", "scope: global, include: '*.mlp.*'"))
    assert one.methods[0].include == ("*.mlp.*",)
