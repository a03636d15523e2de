"""Target profiles: the shipped files validate, a workspace file replaces one by name, and a
bad file is refused in one line naming the file and the field."""

from __future__ import annotations

import dataclasses

import pytest

from engine.config_fields import ConfigError
from engine.deploy.targets import (
    SHIPPED_DIR,
    TargetProfile,
    check_target_names,
    get_target,
    load_target_file,
    load_targets,
)


def test_every_shipped_target_validates_and_says_what_it_checks():
    targets = load_targets()
    assert {"server-cpu", "server-gpu", "mobile", "mobile-npu", "edge"} <= set(targets)
    for name, t in targets.items():
        assert t.name == name and t.description
        assert (SHIPPED_DIR / f"{name}.yaml").is_file()
    edge = targets["edge"]
    assert edge.require_int8 and edge.threads == 4 and edge.proxy
    assert edge.max_size_mb and edge.max_peak_memory_mb and edge.max_opset
    assert targets["server-gpu"].execution_provider == "CUDAExecutionProvider"
    assert targets["mobile"].ort_mobile and targets["mobile"].mobile_eps == ()  # its CPU
    npu = targets["mobile-npu"]
    assert npu.ort_mobile and set(npu.mobile_eps) == {"nnapi", "coreml"}
    for f in dataclasses.fields(TargetProfile):  # each field's help says what it checks
        assert len(f.metadata["help"]) > 20, f.name


def test_workspace_target_replaces_the_shipped_one_and_adds_its_own(tmp_path):
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "edge.yaml").write_text("kind: edge\nmax_size_mb: 5\n")
    (tmp_path / "targets" / "pi-zero.yaml").write_text("kind: edge\nthreads: 1\n")
    targets = load_targets(tmp_path)
    assert targets["edge"].max_size_mb == 5 and not targets["edge"].require_int8
    assert targets["pi-zero"].threads == 1
    assert get_target("pi-zero", tmp_path).name == "pi-zero"
    assert get_target("edge").max_size_mb == 50  # the shipped one, without the workspace


@pytest.mark.parametrize("text, field", [
    ("kind: edge\nmax_size_mb: -3\n", "target.max_size_mb: must be in (0, inf]"),
    ("kind: toaster\n", "target.kind: must be one of server-cpu"),
    ("kind: edge\nthreads: four\n", "target.threads: must be a whole number"),
    ("kind: edge\nmax_size: 5\n", "target.max_size: unknown setting"),
    ("kind: mobile\nmobile_eps: [nnapi, tpu]\n", "target.mobile_eps: unknown accelerator 'tpu'"),
    ("kind: [edge\n", "is not valid YAML"),
    ("- edge\n", "must be a mapping of settings"),
    ("name: other\n", "target.name: 'other' differs from the file name"),
])
def test_bad_target_file_is_one_line_naming_file_and_field(tmp_path, text, field):
    path = tmp_path / "edgy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_target_file(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and field in msg, msg


def test_unknown_target_names_are_named_with_the_known_ones(tmp_path):
    errors = check_target_names(("edge", "toaster"), "deploy.targets", tmp_path)
    assert [e.path for e in errors] == ["deploy.targets[1]"]
    assert "unknown target 'toaster'; known: edge, mobile, mobile-npu, server-cpu, server-gpu" in errors[0].message
    with pytest.raises(ConfigError, match="unknown target 'toaster'; known: edge"):
        get_target("toaster")
