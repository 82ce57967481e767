"""Reading Word (.docx) transcripts into lines of text for speaker-turn parsing.

Paragraphs become lines; a two- or three-column table (speaker, text / time, speaker, text) is
read row by row as ``speaker: text`` lines, the layout many transcription services export.

The file is checked before python-docx opens it: the zip within the limits of
:mod:`nlp_coder.readers.limits` (no zip bomb, no unreadable compression) and every XML part
through defusedxml (no DTD, so no entity expansion).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from nlp_coder.errors import InputError
from nlp_coder.readers.archive import read_file_bytes, read_zip
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.readers.safexml import parse_xml
from nlp_coder.readers.turns import is_timestamp, timestamp_value

UNREADABLE = "E102"
_FIX = "Open it in Word and save it again as .docx (old .doc files must be converted)"
# What python-docx raises for a package it cannot make sense of.
_BROKEN = (PackageNotFoundError, KeyError, ValueError, XMLSyntaxError)

# A first row made only of these is a header, not speech.
_HEADER_CELLS = frozenset(
    {"speaker", "speakers", "name", "who", "text", "transcript", "transcription", "utterance",
     "content", "dialogue", "speech", "time", "timestamp", "time code", "timecode", "start"}
)


@dataclass(frozen=True)
class WordText:
    """The lines of a Word file joined into text, and the speakers its tables name."""

    text: str
    speakers: frozenset[str]


def read_docx(path: Path, where: str) -> WordText:
    """Read the body of a .docx file in document order.

    Args:
        path: the file.
        where: the file's name, for messages.

    Returns:
        The text (paragraphs and table rows, one per line) and the table speakers.

    Raises:
        InputError: the file is not a readable .docx file (``E102``), is packed in a way that
            cannot be read (``E104``), or exceeds a safety limit (``E105``).
    """
    data = read_file_bytes(path, where, what="Word file")
    members = read_zip(data, where, code=UNREADABLE, fix=_FIX,
                       broken="is not a readable Word .docx file: not a zip archive")
    for name, member in members:
        if name.casefold().endswith((".xml", ".rels")) or member.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            parse_xml(member, f"{where}:{name}", code=UNREADABLE, fix=_FIX)
    try:
        document = docx.Document(io.BytesIO(data))
    except _BROKEN:
        raise InputError("is not a readable Word .docx file", where, _FIX, code=UNREADABLE) from None
    lines: list[str] = []
    speakers: set[str] = set()
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(_paragraph_line(block))
        elif isinstance(block, Table):
            lines.extend(_table_lines(block, speakers))
    return WordText(normalise_newlines("\n".join(lines)), frozenset(speakers))


def _paragraph_line(paragraph: Paragraph) -> str:
    text = paragraph.text
    style = paragraph.style.name if paragraph.style is not None else ""
    # Word headings ("Interview 3, 12 May") are written as Markdown headings so that turn
    # parsing treats them as it treats a .md heading: not speech, and the end of a turn.
    if text.strip() and style and (style.startswith("Heading") or style == "Title"):
        return "# " + text.strip()
    return text


def _table_lines(table: Table, speakers: set[str]) -> list[str]:
    rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
    if not rows:
        return []
    width = max(len(row) for row in rows)
    if width not in (2, 3):
        # A layout table, not a transcript grid: its cells are read as paragraphs.
        return [cell for row in rows for cell in row if cell]
    if all(not c or c.casefold().rstrip(":") in _HEADER_CELLS for c in rows[0]):
        rows = rows[1:]
    lines: list[str] = []
    for row in rows:
        row = row + [""] * (width - len(row))
        time, speaker, text = ("", *row) if width == 2 else row
        if not text:
            continue
        speaker = " ".join(speaker.rstrip(":").split())
        prefix = f"[{timestamp_value(time)}] " if is_timestamp(time) else ""
        if speaker:
            speakers.add(speaker)
            lines.append(f"{prefix}{speaker}: {text}")
        else:
            lines.append(f"{prefix}{text}")
    return lines
