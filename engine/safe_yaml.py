"""Bounded YAML: a recipe is parsed only when it is small, and its aliases cannot blow up.

PyYAML's safe loader expands aliases as it builds objects, so a few hundred bytes of
nested anchors ("billion laughs") become gigabytes. We compose the node graph first,
where an alias is one shared node, count the nodes the document would expand to, and
build Python objects only when that count is sane.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1 << 20  # a recipe is a page of settings; 1 MiB is far beyond any real one
MAX_NODES = 100_000  # values after expanding aliases
MAX_DEPTH = 64


class YamlTooLarge(ValueError):
    """The YAML would expand beyond the limits; str() says which."""


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int) -> int:
    """Nodes the document holds once every alias is expanded (shared nodes counted each time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise YamlTooLarge("refers to itself through an alias (a recursive anchor)")
    if depth > MAX_DEPTH:
        raise YamlTooLarge(f"is nested more than {MAX_DEPTH} levels deep")
    active.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, active, depth + 1)
            if total > MAX_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo, active, depth + 1)
            total += _expanded_size(v, memo, active, depth + 1)
            if total > MAX_NODES:
                break
    active.discard(key)
    memo[key] = total
    if total > MAX_NODES:
        raise YamlTooLarge(
            f"expands to more than {MAX_NODES:,} values (aliases repeating anchors, "
            "a 'billion laughs' document)"
        )
    return total


def bounded_safe_load(text: str) -> Any:
    """yaml.safe_load with limits on size, alias expansion and nesting; YamlTooLarge beyond."""
    if len(text) > MAX_BYTES:
        raise YamlTooLarge(f"is {len(text):,} characters; a recipe is at most {MAX_BYTES:,}")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlTooLarge(f"is nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        _expanded_size(node, {}, set(), 0)
        return loader.construct_document(node)
    finally:
        loader.dispose()
