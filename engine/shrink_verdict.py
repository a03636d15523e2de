"""The words of the shrink verdict: every ratio read in the direction it went.

A ratio alone ("1.20×") does not say whether a file grew or shrank, and "0.80× its speed"
is easy to misread as a speed-up. Every sentence about a size or a latency goes through
`size_phrase` / `speed_phrase`, which pick the verb from the number: a zip that grew is
never said to shrink.
"""

from __future__ import annotations

NOISE = 0.05  # latency ratios within ±5% of 1 are not told apart from run-to-run jitter
SMALLER = 0.95  # a file under 95% of the parent's counts as smaller (graphs differ a little)
LARGER = 1 / SMALLER  # and one over ~105% as larger


def size_direction(ratio: float) -> str:
    """'smaller', 'larger' or 'same' for a size ratio (this / parent)."""
    return "smaller" if ratio < SMALLER else "larger" if ratio > LARGER else "same"


def size_phrase(ratio: float) -> str:
    """'shrank to 0.83× the parent's' / 'grew to 1.20× the parent's' / 'kept about the parent's size (1.02×)'."""
    way = size_direction(ratio)
    if way == "smaller":
        return f"shrank to {ratio:.2f}× the parent's"
    if way == "larger":
        return f"grew to {ratio:.2f}× the parent's"
    return f"kept about the parent's size ({ratio:.2f}×)"


def speed_phrase(speedup: float) -> str:
    """'1.50× faster' / '1.25× slower' (latency 1.25× the parent's) / 'about as fast (1.02×)'."""
    if speedup >= 1 + NOISE:
        return f"{speedup:.2f}× faster"
    if speedup <= 1 - NOISE:
        return f"{1 / speedup:.2f}× slower"
    return f"about as fast ({speedup:.2f}×)"


def verdict(
    size_ratio: float | None,
    zip_ratio: float | None,
    speedup: float | None,
    noise: bool | None,
    dense_zeros: bool,
) -> tuple[str, str]:
    """(outcome, one line): what the parent comparison shows.

    outcome is smaller_faster | smaller | faster | zip_only | none | missing.
    """
    if size_ratio is None or speedup is None:
        return "missing", "Not enough numbers to compare: the ONNX size or latency of one side is missing."
    smaller = size_ratio < SMALLER
    zip_smaller = zip_ratio is not None and zip_ratio < SMALLER
    onnx_kept = "grew" if size_direction(size_ratio) == "larger" else "keeps its size"
    if dense_zeros and not smaller:
        if zip_smaller:
            return "zip_only", (
                f"Zeros, not smaller tensors: the ONNX file {onnx_kept} ({size_ratio:.2f}×) and "
                f"runs the same dense kernels; only the zip shrinks ({zip_ratio:.2f}×)."
            )
        zip_part = f"; the zip {size_phrase(zip_ratio)}" if zip_ratio is not None else ""
        return "none", (f"Nothing shrank: the ONNX file {size_phrase(size_ratio)}{zip_part}, "
                        "and the same dense kernels run.")
    faster = speedup >= 1 + NOISE
    if smaller and faster:
        return "smaller_faster", f"Yes: {size_ratio:.2f}× the parent's ONNX size and {speedup:.2f}× faster."
    if smaller:
        how = "within measurement noise" if noise else speed_phrase(speedup)
        return "smaller", f"Smaller ({size_ratio:.2f}× the parent's ONNX size) but not faster: latency {how}."
    if faster and size_direction(size_ratio) == "larger":
        return "faster", f"Faster ({speedup:.2f}×), but the ONNX file {size_phrase(size_ratio)}."
    if faster:
        return "faster", f"Faster ({speedup:.2f}×) at about the same ONNX size ({size_ratio:.2f}×)."
    how = f"within measurement noise ({speedup:.2f}×)" if noise else speed_phrase(speedup)
    return "none", f"No: the ONNX file {size_phrase(size_ratio)}; latency {how}."


def measured(
    size: float | None,
    p_size: float | None,
    zipped: float | None,
    p_zipped: float | None,
    lat: float | None,
    p_lat: float | None,
    speedup: float | None,
) -> list[str]:
    """The measured comparison lines behind the verdict (for text output)."""
    out = []
    for what, mine, theirs in (("ONNX file", size, p_size), ("zipped", zipped, p_zipped)):
        if mine is not None and theirs:
            ratio = mine / theirs
            way = size_direction(ratio)
            word = "about the same" if way == "same" else way
            out.append(f"{what} {_mb(mine)} vs the parent's {_mb(theirs)} ({ratio:.2f}×, {word})")
    if lat is not None and p_lat is not None and speedup is not None:
        out.append(f"latency p50 {lat:.2f} ms vs the parent's {p_lat:.2f} ms ({speed_phrase(speedup)})")
    return out


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"
