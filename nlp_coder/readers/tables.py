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
from nlp_coder.readers import limits
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.readers.limits import JsonProblem, exceeded, load_json
from nlp_coder.records import Document, Span, Turn

_DELIMITERS = ",;\t"
MALFORMED = "E103"
"""The catalogue code of a malformed fragment table."""
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


def read_csv(text: str, where: str, *, code: str = MALFORMED) -> Table:
    """Parse CSV text, detecting a ``,``, ``;`` or tab delimiter.

    Args:
        text: the normalised file text.
        where: the file's name, for messages.
        code: the error code of a malformed table (``E122`` for a metadata table).

    Returns:
        The table; short rows are padded with empty values.

    Raises:
        InputError: a row has more values than the header, or the CSV cannot be parsed
            (``code``); a value is longer than the csv module's field limit (``E105``).
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
                _check_columns(columns, where, code)
                continue
            if len(values) > len(columns) and any(v.strip() for v in values[len(columns):]):
                raise InputError(
                    f"row {len(rows) + 1} (line {row_line}) has {len(values)} values but the "
                    f"header has {_columns(len(columns))}",
                    where,
                    f"Put values that contain {_name(delimiter)} in double quotes",
                    code=code,
                )
            cells = {c: v for c, v in zip(columns, values) if c}
            cells.update({c: "" for c in columns[len(values):] if c})
            rows.append(TableRow(len(rows) + 1, row_line, cells))
    except csv.Error as error:
        raise csv_problem(error, where, reader.line_num, code) from None
    return Table(columns or (), tuple(rows))


def csv_problem(error: csv.Error, where: str, line: int, code: str) -> InputError:
    """The error for a :class:`csv.Error` raised at ``line``: a value longer than the csv module's
    field limit is a safety limit (``E105``), anything else a malformed table (``code``)."""
    if "field limit" in str(error):
        return exceeded(f"line {line} holds a value longer than {csv.field_size_limit():,} characters", where,
                        "csv.field_size_limit",
                        "Check the quoting before that line (an unclosed quote runs on to the end of the file)")
    return InputError(f"cannot be read as CSV at line {line}: {error}", where, "Check the quoting on that line",
                      code=code)


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
            value = load_json(line)
        except JsonProblem as problem:
            if problem.limit is not None:
                raise exceeded(f"line {number} is {problem.message}", where, problem.limit,
                               "Keep each row's values flat: text, numbers, short lists") from None
            raise InputError(f"line {number} is not valid JSON ({problem.message})", where, fix,
                             code=MALFORMED) from None
        if not isinstance(value, dict):
            raise InputError(f"line {number} is not a JSON object", where, fix, code=MALFORMED)
        cells = {str(key): _json_text(item) for key, item in value.items()}
        columns.update(dict.fromkeys(cells))
        rows.append(TableRow(len(rows) + 1, number, cells, csv=False))
    return Table(tuple(columns), tuple(rows))


def jsonl_lines(text: str) -> list[str]:
    """The lines of JSON Lines text. Only ``\n``, ``\r\n`` and ``\r`` end a line: JSON may hold
    characters such as U+2028 unescaped inside strings, where ``str.splitlines`` would split."""
    return normalise_newlines(text).split("\n")


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
            f"has no 'text' column (columns found: {_snippet(found)})", where,
            "A fragment table needs a 'text' column holding each fragment's text", code=MALFORMED,
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
                    f"fragment id {_snippet(fragment_id)!r} appears twice in document {_snippet(name)!r} "
                    f"({first.where} and {row.where})",
                    where, "Give every fragment of a document its own id", code=MALFORMED,
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
        raise InputError("has no fragment with text", where, "Fill in the 'text' column", code="E106")
    return tuple(documents), tuple(file_warnings)


def _roles(columns: tuple[str, ...]) -> dict[str, str]:
    """Map the reserved roles (id, text, document, speaker) to the columns holding them."""
    roles: dict[str, str] = {}
    for column in columns:
        key = column.strip().casefold()
        if key in _RESERVED:
            roles.setdefault(key, column)  # "text" and "Text" both present: the first wins
    return roles


def _check_columns(columns: tuple[str, ...], where: str, code: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column and column in seen:
            raise InputError(
                f"has two columns named {_snippet(column)!r}", where, "Give every column its own name", code=code
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
        return csv.Sniffer().sniff(text[:limits.MAX_SNIFF_CHARS], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","  # one column, or too little text to tell


def _snippet(value: str, size: int = 80) -> str:
    """A value quoted in a message, cut to one short line."""
    value = " ".join(value.split())
    return value if len(value) <= size else value[: size - 1] + "…"


def _columns(count: int) -> str:
    return f"{count} column" if count == 1 else f"{count} columns"


def _name(delimiter: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab"}.get(delimiter, repr(delimiter))
