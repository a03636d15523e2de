"""Reading text files in the right encoding, and checking data paths exist and hold something.

UTF-8 is read as is. Anything else is either refused (binary files) or decoded with a
guess from charset-normalizer that is reported as a warning naming the encoding, so a
user whose cp1252 or Shift-JIS file was read sees it, and can set `data.encoding`.
"""

from __future__ import annotations

import codecs
import encodings
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.bundle import DataLoadError

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CLOSE_CHAOS = 0.15  # guesses this close to the best count as equally clean


def require_path(path: Path) -> None:
    """Raise when the data file or folder does not exist."""
    if not path.exists():
        raise DataLoadError(f"data file not found: {path}")


def _guess(data: bytes, path: Path) -> str:
    """The most plausible legacy encoding for non-UTF-8 text; refuses what is not text."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[: 1 << 20]))
    if not matches:
        raise DataLoadError(
            f"{path} is not text in any encoding we recognise (a binary file?); give a UTF-8 "
            "text file, or set data.encoding if you know its encoding",
            "data.encoding",
        )
    best = min(m.chaos for m in matches)
    close = [m.encoding for m in matches if m.chaos <= best + _CLOSE_CHAOS]
    # Windows-1252 is by far the most common legacy encoding of Western text
    return "cp1252" if "cp1252" in close else matches[0].encoding


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\0" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and control / len(head) > 0.1


@dataclass
class TextDecoding:
    """How data files are decoded (`data.encoding`), and the notes about guesses made."""

    encoding: str = "auto"
    notes: list[str] = field(default_factory=list)

    def read(self, path: Path) -> str:
        """The text of `path`; DataLoadError naming the file for binary or undecodable bytes."""
        if not path.is_file():  # a device or pipe (/dev/urandom) would be read forever
            raise DataLoadError(f"{path} is not a regular file; give a text, CSV or JSONL file")
        data = path.read_bytes()
        if self.encoding != "auto":
            return self._decode_as(data, path, self.encoding)
        for bom, name in _BOMS:
            if data.startswith(bom):
                return self._decode_as(data, path, name)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        if _looks_binary(data):
            raise DataLoadError(
                f"{path} looks like a binary file, not text; give a UTF-8 text, CSV or JSONL file"
            )
        guess = _guess(data, path)
        text = self._decode_as(data, path, guess)
        self.notes.append(f"{path.name} is not UTF-8; it was decoded as {guess} (a guess): set "
                          "data.encoding if that is wrong")
        return text

    @staticmethod
    def _decode_as(data: bytes, path: Path, encoding: str) -> str:
        # the standard library's own table: codecs.lookup also asks search functions that
        # third-party packages register, one of which (future_typing) accepts any name
        if encodings.search_function(encoding.strip().lower()) is None:
            raise DataLoadError(f"data.encoding {encoding!r} is not a known encoding; use e.g. "
                                "utf-8, cp1252, latin-1, shift_jis or auto", "data.encoding")
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DataLoadError(
                f"{path} is not valid {encoding} (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}); set data.encoding to the file's encoding, or auto",
                "data.encoding",
            ) from None


def read_text(path: Path, decoding: TextDecoding | None = None) -> str:
    """The text of `path` (UTF-8, or as `decoding` says)."""
    return (decoding or TextDecoding()).read(path)


def read_nonempty_text(path: Path, decoding: TextDecoding | None = None) -> str:
    """The text of a file that must exist and hold more than whitespace."""
    require_path(path)
    if path.is_dir():
        raise DataLoadError(f"{path} is a folder; text data needs one plain text file")
    text = read_text(path, decoding)
    if not text.strip():
        raise DataLoadError(f"data file {path} is empty")
    return text
