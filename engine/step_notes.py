"""The notes a run's method steps recorded on the card, as lines for the verdict."""

from __future__ import annotations

from typing import Any


def step_notes(card: dict[str, Any]) -> list[str]:
    """'Step 1 · Structured pruning heads 25%: <note>' for every note a step recorded.

    Notes say what a step did that differs from what was asked (grouped-query rounding) and
    which choice `auto` made, so they belong next to the verdict.
    """
    lines = []
    for record in card.get("steps") or []:
        if not isinstance(record, dict):
            continue
        title = f"Step {record.get('step', '?')} · {record.get('title', '')}".rstrip(" ·")
        lines += [f"{title}: {note}" for note in record.get("notes") or [] if isinstance(note, str)]
    return lines
