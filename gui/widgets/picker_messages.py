"""The Model page's wording of a load error: which field it names, and the page's names for it.

The engine speaks recipe language ("model.tokenizer: …; set model.python_path …"); on the page
the fix is a field of "More options", so the message names that field the way the page does.
"""

from __future__ import annotations

from gui.widgets.model_more_options import MORE_FIELDS

# the page's name for each More-options field, as its label shows it
OPTION_LABELS = {
    "model.tokenizer": "Tokenizer",
    "model.python_path": "Class folder",
    "model.input_dtype": "Example input",
    "model.input_range": "Example input",
    "model.dtype": "Weights",
}


def split_field(message: str) -> tuple[str, str]:
    """('model.trust', 'the text') from 'model.trust: the text' (engine errors name their field)."""
    head, sep, rest = message.partition(": ")
    if sep and head.startswith("model.") and " " not in head:
        return head, rest
    return "", message


def option_field(field: str, text: str) -> str:
    """The More-options field an error is about: the one it names first, else one its fix names."""
    if field in MORE_FIELDS:
        return field
    return next((f for f in MORE_FIELDS if f in text), "")


def on_page(text: str, where: str = " (More options)") -> str:
    """`text` with recipe field names replaced by the page's ("set model.tokenizer" -> "set
    “Tokenizer” (More options)"); `where` is left off for the line inside the panel."""
    # the engine speaks recipe language; on this page the trust fix is the checkbox below
    text = text.replace("set model.trust: true", "tick “Trust this file” below")
    text = text.replace("Set model.trust: true", "Tick “Trust this file” below")
    for field in sorted(OPTION_LABELS, key=len, reverse=True):  # input_range before input_
        text = text.replace(field, f"“{OPTION_LABELS[field]}”{where}")
    return text


def pointer(field: str) -> str:
    """The picker's red line when the reason is shown next to a More-options field."""
    return f"Could not load with this {OPTION_LABELS[field].lower()} setting: see More options below"
