"""Recipe diff: exactly the changed fields, steps matched by position and type."""

from __future__ import annotations

from engine.compare.recipe_diff import recipe_diff, stored_recipe
from engine.recipe import Recipe

A = """
name: a
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 32}
methods:
  - {type: unstructured_prune, amount: 0.6, scope: global}
  - {type: structured_prune, target: ffn, amount: 0.25}
train: {max_steps: 8, lr: 0.0005}
"""

B = """
name: b
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 64}
methods:
  - {type: unstructured_prune, amount: 0.7, scope: global}
  - {type: nm_prune}
  - {type: int8_dynamic, per_channel: true}
train: {max_steps: 8, lr: 0.0003, batch_size: 32}
"""


def test_recipe_diff_lists_exactly_the_changed_fields():
    a, b = Recipe.from_yaml(A), Recipe.from_yaml(B)
    changes = recipe_diff(a, b)
    paths = [c.path for c in changes]
    assert paths == ["name", "data.max_length", "methods[0].amount", "methods[1]", "methods[1]",
                     "methods[2]", "train.batch_size", "train.lr"]
    texts = [c.text for c in changes]
    assert "data.max_length: 32 → 64" in texts
    assert "methods[0].amount: 0.6 → 0.7" in texts
    assert "train.lr: 0.0005 (default) → 0.0003" in texts
    # B sets batch_size, A leaves it out: A's side is the default, and says so
    assert "train.batch_size: 16 (default) → 32" in texts
    kinds = [(c.path, c.kind) for c in changes if c.path.startswith("methods[")
             and "." not in c.path]
    # a step of another type at the same position: removed + added, not field changes
    assert kinds == [("methods[1]", "removed"), ("methods[1]", "added"), ("methods[2]", "added")]
    assert texts[3].startswith("methods: Step 2 removed: structured_prune(target=ffn, amount=0.25")
    assert texts[5] == "methods: Step 3 added: " + changes[5].after
    assert changes[5].after == "int8 dynamic (per-channel)"  # the card's describe() label


def test_same_recipe_and_stored_yaml_round_trip():
    a = Recipe.from_yaml(A)
    assert recipe_diff(a, a) == []
    # what the workspace stores (the changed-only YAML) compares equal to the recipe itself
    assert recipe_diff(a, stored_recipe(a.to_yaml())) == []
    # reversed: the same paths, sides swapped
    back = recipe_diff(Recipe.from_yaml(B), a)
    assert [c.path for c in back if "." in c.path] == ["data.max_length", "methods[0].amount",
                                                         "train.batch_size", "train.lr"]
    assert "train.batch_size: 32 → 16 (default)" in [c.text for c in back]
