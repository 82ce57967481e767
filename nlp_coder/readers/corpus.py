"""Reading a transcript file, a fragment table, or a folder of them into documents."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from nlp_coder.errors import InputError
from nlp_coder.readers.decoding import EMPTY, SUPPORTED_SUFFIXES, UNKNOWN_FORMAT, decode, supported_formats
from nlp_coder.readers.limits import read_limited
from nlp_coder.readers.metadata import attach_metadata
from nlp_coder.readers.tables import read_csv, read_jsonl, table_documents
from nlp_coder.readers.turns import parse_turns
from nlp_coder.records import Document

METADATA_FILE = "metadata.csv"


@dataclass(frozen=True)
class CorpusReading:
    """The documents of a corpus, sorted by id, and warnings about the corpus as a whole.

    Warnings about one document (an encoding fallback, a skipped empty row) are in that
    document's ``warnings``; ``warnings`` here holds the rest, such as metadata rows that name
    no document.
    """

    documents: tuple[Document, ...]
    warnings: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()
    """Files of the folder not read because their type is not supported (relative paths)."""


def read_corpus(path: Path, *, metadata: Path | None = None) -> tuple[Document, ...]:
    """Read a transcript file, a fragment table, or a folder of them.

    Args:
        path: a file, or a folder read recursively.
        metadata: a CSV of document attributes; by default the folder's ``metadata.csv``.

    Returns:
        The documents sorted by id.
    """
    return read_corpus_report(path, metadata).documents


def read_corpus_report(path: Path, metadata: Path | None = None, *, strict: bool = False) -> CorpusReading:
    """Read a corpus like :func:`read_corpus`, keeping the corpus-level warnings.

    Args:
        path: a file, or a folder read recursively (sorted by relative path; hidden files,
            README files and ``metadata.csv`` skipped; files with unsupported suffixes skipped,
            each named in a warning).
        metadata: a CSV with a ``document`` column and attribute columns; if None and the
            folder holds ``metadata.csv``, that file is used.
        strict: a file with an unsupported suffix in the folder is an error (``E107``).

    Returns:
        The documents sorted by id, and the warnings.

    Raises:
        InputError: the path is missing (``E101``), a file cannot be read (``E102``-``E105``,
            see :func:`read_document`) or a folder in it cannot be listed (``E102``), the folder
            holds no transcript (``E106``), or two documents have the same id (``E103``); the
            metadata table is invalid (``E122``); with ``strict``, the folder holds a file of an
            unsupported type (``E107``).
    """
    path = Path(path)
    where = str(path)
    unsupported: list[str] = []
    if path.is_dir():
        if metadata is None and (path / METADATA_FILE).is_file():
            metadata = path / METADATA_FILE
        files, unsupported = _corpus_files(path, metadata)
        if unsupported and strict:
            raise InputError(
                f"{len(unsupported)} file{'s' if len(unsupported) != 1 else ''} of a type that is not read: "
                f"{', '.join(unsupported)}", where,
                f"Export them as .txt or .docx, or move them out of the folder (supported: {supported_formats()})",
                code="E107")
        documents: list[Document] = []
        for relative in files:
            documents.extend(read_document(path / relative, document_id=relative))
        if not documents:
            raise InputError(
                "no transcript found in the folder", where,
                f"Put transcripts with one of the suffixes {supported_formats()} in it", code=EMPTY,
            )
    elif path.is_file():
        documents = list(read_document(path))
    else:
        raise InputError("no such file or folder", where, "Check the path", code="E101")
    ordered = tuple(sorted(documents, key=lambda d: d.id))
    _check_unique(ordered, where)
    skipped = tuple(f"{where}: {name} not read: its type is not supported ({supported_formats()})"
                    for name in unsupported)
    if metadata is None:
        return CorpusReading(ordered, skipped, tuple(unsupported))
    attached, warnings = attach_metadata(ordered, Path(metadata))
    return CorpusReading(attached, skipped + warnings, tuple(unsupported))


def read_document(path: Path, *, document_id: str | None = None) -> tuple[Document, ...]:
    """Read one file; a fragment table may hold several documents.

    Args:
        path: the file.
        document_id: the document's id (for a table: the id of rows without a ``document``
            value); by default the file name.

    Returns:
        The file's documents in order of appearance.

    Raises:
        InputError: the suffix is not supported (``E104``); the file cannot be read or is not
            text (``E102``); a transcript or table is malformed (``E103``); it holds nothing to
            code (``E106``); it exceeds a safety limit (``E105``, :mod:`nlp_coder.readers.limits`).
    """
    path = Path(path)
    where = str(path)
    doc_id = document_id or path.name
    suffix = path.suffix.casefold()
    if suffix == ".qdpx":  # a REFI-QDA project: its text sources are the documents
        from nlp_coder.refi import qdpx_documents

        return qdpx_documents(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {path.suffix or '(no suffix)'!r}", where,
            f"Give a transcript ending in one of {supported_formats()}", code=UNKNOWN_FORMAT,
        )
    fmt = suffix.lstrip(".")
    if fmt == "docx":
        if _size(path, where) == 0:
            raise InputError("file is empty", where, "Put the transcript text in it, or remove it", code=EMPTY)
        from nlp_coder.readers.word import read_docx  # python-docx and lxml: only for Word files

        word = read_docx(path, where)
        return (_transcript(doc_id, word.text, where, fmt, (), word.speakers),)
    text, warnings = decode(_bytes(path, where, fmt), where)
    if fmt in ("txt", "md"):
        return (_transcript(doc_id, text, where, fmt, warnings),)
    if fmt in ("vtt", "srt"):
        from nlp_coder.readers.captions import read_srt, read_vtt  # srt and webvtt: only for captions

        built = read_vtt(text, where) if fmt == "vtt" else read_srt(text, where)
        return (Document(doc_id, built.text, where, fmt, built.turns, warnings=warnings),)
    table = read_csv(text, where) if fmt == "csv" else read_jsonl(text, where)
    del text  # a fragment table can be large: keep one copy of its text, the documents'
    documents, file_warnings = table_documents(
        table, where=where, source=where, format=fmt, default_document=doc_id
    )
    # A warning about the file (a document left empty) concerns every document read from it.
    extra = warnings + file_warnings
    return tuple(replace(d, warnings=extra + d.warnings) for d in documents)


def _transcript(
    doc_id: str, text: str, where: str, fmt: str, warnings: tuple[str, ...],
    speakers: frozenset[str] = frozenset(),
) -> Document:
    turns = parse_turns(text, speakers=speakers)
    if not turns:
        raise InputError("has no transcript text (only headings or timestamps)", where,
                         "Check that this is the transcript file", code=EMPTY)
    return Document(doc_id, text, where, fmt, turns, warnings=warnings)


# Files a system leaves in folders: never transcripts, never worth a warning.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


def _corpus_files(folder: Path, metadata: Path | None) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of the readable files under a folder, and of the files whose type is
    not read (hidden files, lock files, README files and system files are neither), sorted."""
    skip = metadata.resolve() if metadata is not None else None
    found: list[str] = []
    unsupported: list[str] = []
    def unreadable(error: OSError) -> None:  # os.walk passes over a folder it cannot list: say so
        raise InputError(f"cannot list the folder ({error.strerror or error})", str(error.filename or folder),
                         "Check that it can be read, or move it out of the corpus folder", code="E102")

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            lowered = name.casefold()
            if (
                name.startswith((".", "~$"))  # hidden files; Word's lock files
                or lowered.startswith("readme")
                or lowered == METADATA_FILE
                or lowered in _SYSTEM_FILES
            ):
                continue
            file = Path(root, name)
            if skip is not None and file.resolve() == skip:
                continue
            relative = file.relative_to(folder).as_posix()
            (found if Path(name).suffix.casefold() in SUPPORTED_SUFFIXES else unsupported).append(relative)
    return sorted(found), sorted(unsupported)


def _check_unique(documents: tuple[Document, ...], where: str) -> None:
    for before, after in zip(documents, documents[1:]):
        if before.id == after.id:
            raise InputError(
                f"two documents are named {after.id!r} ({before.source} and {after.source})",
                where, "Give each document its own name (check the tables' 'document' column)", code="E103",
            )


def _bytes(path: Path, where: str, fmt: str) -> bytes:
    """A transcript's or table's bytes, within its size limit."""
    if fmt in ("csv", "jsonl"):
        return read_limited(path, where, limit="MAX_TABLE_BYTES", what="fragment table",
                            fix="Split the table into several files")
    return read_limited(path, where, limit="MAX_TRANSCRIPT_BYTES", what="transcript",
                        fix="Split it into one file per interview")


def _size(path: Path, where: str) -> int:
    try:
        return path.stat().st_size
    except OSError as error:
        raise InputError(f"cannot read the file ({error.strerror})", where,
                         "Check that it exists and can be read", code="E102") from None
