"""Attaching a metadata table's attributes (participant, site, wave...) to documents.

The table is a CSV file with a ``document`` column naming a document by its id, its file name or
its file name without the suffix; every other column is an attribute.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

from nlp_coder.errors import InputError
from nlp_coder.readers.decoding import decode
from nlp_coder.readers.limits import read_limited
from nlp_coder.readers.tables import Table, read_csv
from nlp_coder.records import Document

INVALID = "E122"
"""The catalogue code of an invalid metadata table."""


def attach_metadata(
    documents: tuple[Document, ...], path: Path
) -> tuple[tuple[Document, ...], tuple[str, ...]]:
    """Add each metadata row's attributes to the document it names.

    Args:
        documents: the documents read.
        path: the metadata CSV file.

    Returns:
        The documents with their attributes, and warnings (rows naming no document).

    Raises:
        InputError: the file is missing (``E101``) or cannot be read (``E102``), exceeds a safety
            limit (``E105``), has no ``document`` column, a row names several documents, or two
            rows name the same document (``E122``).
    """
    where = str(path)
    data = read_limited(path, where, limit="MAX_TABLE_BYTES", what="metadata file",
                        fix="Check the path given for the metadata")
    text, warnings = decode(data, where)
    table = read_csv(text, where, code=INVALID)
    column = _document_column(table, where)
    attributes: dict[str, dict[str, str]] = {}
    matched_by: dict[str, str] = {}
    messages = list(warnings)
    for row in table.rows:
        name = row.cells.get(column, "").strip()
        if not name:
            messages.append(f"{where}: {row.where} has no document name; skipped")
            continue
        targets = _match(name, documents)
        if not targets:
            messages.append(
                f"{where}: {row.where} names no document read: {name!r} (documents are matched "
                "by their id, file name, or file name without suffix)"
            )
            continue
        if len(targets) > 1:
            raise InputError(
                f"{row.where} names {name!r}, which matches several documents "
                f"({', '.join(d.id for d in targets)})",
                where, "Name the document by its path relative to the corpus folder", code=INVALID,
            )
        target = targets[0].id
        if target in matched_by:
            raise InputError(
                f"{matched_by[target]} and {row.where} both give attributes of {target!r}",
                where, "Keep one row per document", code=INVALID,
            )
        matched_by[target] = row.where
        attributes[target] = {k: v for k, v in row.cells.items() if k != column}
    updated = tuple(
        replace(d, attributes={**d.attributes, **attributes[d.id]}) if d.id in attributes else d
        for d in documents
    )
    return updated, tuple(messages)


def _document_column(table: Table, where: str) -> str:
    for column in table.columns:
        if column.strip().casefold() == "document":
            return column
    found = ", ".join(table.columns) or "none"
    raise InputError(
        f"has no 'document' column (columns found: {found})", where,
        "Add a 'document' column naming each row's transcript file", code=INVALID,
    )


def _match(name: str, documents: tuple[Document, ...]) -> list[Document]:
    """The documents a metadata name refers to: an exact id wins over a file name or stem."""
    exact = [d for d in documents if d.id == name]
    if exact:
        return exact
    by_name = [d for d in documents if PurePosixPath(d.id).name == name]
    if by_name:
        return by_name
    return [d for d in documents if PurePosixPath(d.id).stem == name]
