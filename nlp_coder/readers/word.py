"""Reading Word (.docx) transcripts into lines of text for speaker-turn parsing.

Paragraphs become lines; a two- or three-column table (speaker, text / time, speaker, text) is
read row by row as ``speaker: text`` lines, the layout many transcription services export.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from nlp_coder.errors import InputError
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.readers.turns import is_timestamp, timestamp_value

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
        InputError: the file is not a readable .docx file.
    """
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError):
        raise InputError(
            "is not a readable Word .docx file", where,
            "Open it in Word and save it again as .docx (old .doc files must be converted)",
        ) from None
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
