"""Reading fragment tables (.csv, .jsonl): transcripts already cut into fragments.

Each row is one fragment with a ``text`` and optional ``id``, ``document`` and ``speaker``
columns; every other column is kept as the fragment's attributes. Each document's text is its
rows' texts joined by newlines, and each row is one turn with a single span.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass

from nlp_coder.errors import InputError
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.records import Document, Span, Turn

_DELIMITERS = ",;\t"
_SNIFF_SAMPLE = 16384  # enough rows to tell; csv.Sniffer is slow on more
_RESERVED = ("id", "text", "document", "speaker")
_NO_ATTRIBUTES: dict[str, str] = {}  # shared by the rows of a table with no other column: never modified


@dataclass(frozen=True)
class TableRow:
    """One data row: its number, the file line it starts on, and its cells. ``where`` names it
    for messages ("row 3 (line 4)" in a CSV file, "line 7" in JSON Lines)."""

    number: int
    line: int
    cells: dict[str, str]
    csv: bool = True

    @property
    def where(self) -> str:  # formatted when a message needs it: a million rows hold no strings for it
        return f"row {self.number} (line {self.line})" if self.csv else f"line {self.line}"


@dataclass(frozen=True)
class Table:
    """A table's column names (in order of first appearance) and data rows."""

    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]


def read_csv(text: str, where: str) -> Table:
    """Parse CSV text, detecting a ``,``, ``;`` or tab delimiter.

    Args:
        text: the normalised file text.
        where: the file's name, for messages.

    Returns:
        The table; short rows are padded with empty values.

    Raises:
        InputError: a row has more values than the header, or the CSV cannot be parsed.
    """
    delimiter = _delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    columns: tuple[str, ...] | None = None
    rows: list[TableRow] = []
    line = 1
    try:
        for values in reader:
            row_line, line = line, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if columns is None:
                columns = tuple(v.strip() for v in values)
                _check_columns(columns, where)
                continue
            if len(values) > len(columns) and any(v.strip() for v in values[len(columns):]):
                raise InputError(
                    f"row {len(rows) + 1} (line {row_line}) has {len(values)} values but the "
                    f"header has {_columns(len(columns))}",
                    where,
                    f"Put values that contain {_name(delimiter)} in double quotes",
                )
            cells = {c: v for c, v in zip(columns, values) if c}
            cells.update({c: "" for c in columns[len(values):] if c})
            rows.append(TableRow(len(rows) + 1, row_line, cells))
    except csv.Error as error:
        raise InputError(
            f"cannot be read as CSV at line {reader.line_num}: {error}", where,
            "Check the quoting on that line",
        ) from None
    return Table(columns or (), tuple(rows))


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their newlines, one at a time (``io.StringIO`` would hold a
    copy of the whole text at four bytes a character)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1


def read_jsonl(text: str, where: str) -> Table:
    """Parse JSON Lines text: one object per line, blank lines allowed.

    Args:
        text: the normalised file text.
        where: the file's name, for messages.

    Returns:
        The table; non-string values are kept as their JSON text.

    Raises:
        InputError: a line is not valid JSON or not a JSON object.
    """
    fix = 'Each line must hold one JSON object, such as {"id": "f1", "text": "..."}'
    columns: dict[str, None] = {}
    rows: list[TableRow] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"line {number} is not valid JSON ({error.msg})", where, fix) from None
        if not isinstance(value, dict):
            raise InputError(f"line {number} is not a JSON object", where, fix)
        cells = {str(key): _json_text(item) for key, item in value.items()}
        columns.update(dict.fromkeys(cells))
        rows.append(TableRow(len(rows) + 1, number, cells, csv=False))
    return Table(tuple(columns), tuple(rows))


def table_documents(
    table: Table, *, where: str, source: str, format: str, default_document: str
) -> tuple[tuple[Document, ...], tuple[str, ...]]:
    """Group a fragment table's rows into pre-segmented documents.

    Args:
        table: the parsed table.
        where: the file's name, for messages.
        source: the path as given, for ``Document.source``.
        format: "csv" or "jsonl".
        default_document: the document id of rows without a ``document`` value.

    Returns:
        The documents in order of first appearance, and warnings about the file as a whole
        (a document left without any text).

    Raises:
        InputError: no ``text`` column, a duplicate fragment id, or no row with text.
    """
    roles = _roles(table.columns)
    if "text" not in roles:
        found = ", ".join(table.columns) or "none"
        raise InputError(
            f"has no 'text' column (columns found: {found})", where,
            "A fragment table needs a 'text' column holding each fragment's text",
        )
    reserved = set(roles.values())
    extra_columns = any(c not in reserved for c in table.columns)

    def cell_of(row: TableRow, role: str) -> str:
        return row.cells.get(roles.get(role, ""), "")

    groups: dict[str, list[TableRow]] = {}
    for row in table.rows:
        name = row.cells.get(roles.get("document", ""), "").strip() or default_document
        groups.setdefault(name, []).append(row)
    documents: list[Document] = []
    file_warnings: list[str] = []
    for name, rows in groups.items():
        turns: list[Turn] = []
        texts: list[str] = []
        warnings: list[str] = []
        seen: set[str] = set()
        length = 0
        for row in rows:
            cell = row.cells.get
            fragment_id = cell(roles.get("id", ""), "").strip() or f"row-{row.number}"
            if fragment_id in seen:
                first = next(r for r in rows if (cell_of(r, "id").strip() or f"row-{r.number}") == fragment_id)
                raise InputError(
                    f"fragment id {fragment_id!r} appears twice in document {name!r} "
                    f"({first.where} and {row.where})",
                    where, "Give every fragment of a document its own id",
                )
            seen.add(fragment_id)
            text = normalise_newlines(cell(roles["text"], "")).strip()
            if not text:
                warnings.append(f"{where}: {row.where} has empty text; skipped")
                continue
            start = length + (1 if texts else 0)
            texts.append(text)
            length = start + len(text)
            attributes = {k: v for k, v in row.cells.items() if k not in reserved} if extra_columns else _NO_ATTRIBUTES
            turns.append(Turn(
                index=len(turns), speaker=cell(roles.get("speaker", ""), "").strip() or None,
                spans=(Span(start, length),), fragment_id=fragment_id, attributes=attributes,
            ))
        if not turns:
            file_warnings.extend(warnings)
            file_warnings.append(f"{where}: document {name!r} has no fragment with text; skipped")
            continue
        documents.append(Document(
            id=name, text="\n".join(texts), source=source, format=format, turns=tuple(turns),
            presegmented=True, warnings=tuple(warnings),
        ))
    if not documents:
        raise InputError("has no fragment with text", where, "Fill in the 'text' column")
    return tuple(documents), tuple(file_warnings)


def _roles(columns: tuple[str, ...]) -> dict[str, str]:
    """Map the reserved roles (id, text, document, speaker) to the columns holding them."""
    roles: dict[str, str] = {}
    for column in columns:
        key = column.strip().casefold()
        if key in _RESERVED:
            roles.setdefault(key, column)  # "text" and "Text" both present: the first wins
    return roles


def _check_columns(columns: tuple[str, ...], where: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column and column in seen:
            raise InputError(
                f"has two columns named {column!r}", where, "Give every column its own name"
            )
        seen.add(column)


def _json_text(value: object) -> str:
    """A JSON value as text: strings as they are, null as empty, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _delimiter(text: str) -> str:
    """The delimiter among comma, semicolon and tab, as csv.Sniffer detects it."""
    # Commas in unquoted speech can outvote the real delimiter; the header line rarely lies.
    # A header with exactly one of them decides (the sniffer, slow on long text, is not asked).
    header = next((line for line in text.split("\n", 50) if line.strip()), "")
    in_header = [d for d in _DELIMITERS if d in header]
    if len(in_header) == 1:
        return in_header[0]
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_SAMPLE], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","  # one column, or too little text to tell


def _columns(count: int) -> str:
    return f"{count} column" if count == 1 else f"{count} columns"


def _name(delimiter: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab"}.get(delimiter, repr(delimiter))
