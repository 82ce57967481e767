"""Turning a file's bytes into normalised text.

Every offset the readers compute is an offset into the text returned here, so line endings are
normalised first and nothing else is changed.
"""

from __future__ import annotations

import codecs

from nlp_coder.errors import InputError

UNREADABLE = "E102"
"""The catalogue code of a file that is not text in a known encoding."""
UNKNOWN_FORMAT = "E104"
"""The catalogue code of a file whose format is not supported (a PDF, a binary file)."""
EMPTY = "E106"
"""The catalogue code of a file with nothing to code in it."""

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".docx", ".vtt", ".srt", ".csv", ".jsonl")

# Only the start of a file is checked: a NUL there means a binary file, and reading a whole
# large file to find out is not worth it.
_BINARY_PROBE = 8192

# Files people often give by mistake, recognised by their first bytes, with what to do instead.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "is a PDF file, not a transcript", "Export it as .txt or .docx"),
    (b"{\\rtf", "is an RTF file, not a transcript", "Save it as .docx or .txt"),
    (b"PK\x03\x04", "is a zip or Word file, not a plain-text transcript",
     "A Word file must be named .docx; other zip files must be unpacked"),
)


def supported_formats() -> str:
    """The supported suffixes as one string, for error messages."""
    return " ".join(SUPPORTED_SUFFIXES)


def normalise_newlines(text: str) -> str:
    """Turn ``\\r\\n`` and lone ``\\r`` line endings into ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes, where: str) -> tuple[str, tuple[str, ...]]:
    """Decode a transcript file and normalise its line endings.

    Args:
        data: the file's bytes.
        where: the file's name, for messages.

    Returns:
        The text (no byte-order mark, ``\\n`` line endings, otherwise unchanged) and warnings.

    Raises:
        InputError: the file is empty (``E106``), binary (``E104``), or in no encoding that can be
            read (``E102``).
    """
    if not data.strip():
        raise InputError("file is empty", where, "Put the transcript text in it, or remove it", code=EMPTY)
    warnings: tuple[str, ...] = ()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")  # the codec reads the BOM for the byte order and drops it
        except UnicodeDecodeError as error:
            raise InputError(
                f"starts with a UTF-16 byte-order mark but is not valid UTF-16 (byte {error.start})",
                where,
                "Save it again as UTF-8",
                code=UNREADABLE,
            ) from None
    else:
        _reject_binary(data, where)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as error:
                raise InputError(
                    f"is neither UTF-8 nor Windows-1252 text (undecodable byte at {error.start})",
                    where,
                    "Save it as UTF-8 (in most editors: Save As, encoding UTF-8)",
                    code=UNREADABLE,
                ) from None
            warnings = (
                f"{where}: not valid UTF-8; read as Windows-1252 (cp1252). "
                "Save it as UTF-8 to silence this.",
            )
    text = normalise_newlines(text)
    if not text.strip():
        raise InputError("file is empty", where, "Put the transcript text in it, or remove it", code=EMPTY)
    return text, warnings


def _reject_binary(data: bytes, where: str) -> None:
    """Raise an InputError for a file that is plainly not text."""
    for signature, what, fix in _SIGNATURES:
        if data.startswith(signature):
            raise InputError(what, where, f"{fix} (supported formats: {supported_formats()})", code=UNKNOWN_FORMAT)
    if b"\x00" in data[:_BINARY_PROBE]:
        raise InputError(
            "looks like a binary file, not a transcript",
            where,
            f"Supported formats are {supported_formats()}; save the transcript in one of them",
            code=UNKNOWN_FORMAT,
        )
