"""Data: built-in demo corpora, plain text and labelled files, tokenized into DataBundles."""

from engine.data.builtin import BUILTIN_DATA, list_builtin_data
from engine.data.bundle import IGNORE_INDEX, DataBundle, DataLoadError, TokenDataset
from engine.data.loaders import load_data

__all__ = [
    "BUILTIN_DATA",
    "IGNORE_INDEX",
    "DataBundle",
    "DataLoadError",
    "TokenDataset",
    "list_builtin_data",
    "load_data",
]
