"""Codings from every place a coder's work can come from: a ``.qdpx`` project, a codings CSV
(``document,start,end,code,coder``) or a ``suggest`` JSONL (the machine as a coder).

Offsets in a CSV are character offsets into the document's normalised text, the same offsets
``segment`` and ``suggest`` print, with the end exclusive.

Every problem is an :class:`~nlp_coder.errors.InputError`: ``E120`` for a codings file that is not
valid, ``E101``/``E102``/``E104`` for one that is missing, not UTF-8 or of an unknown kind,
``E105`` for one beyond a safety limit (:mod:`nlp_coder.readers.limits`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from nlp_coder.errors import InputError
from nlp_coder.readers.limits import JsonProblem, exceeded, load_json, read_limited
from nlp_coder.readers.tables import csv_problem, jsonl_lines
from nlp_coder.refi.model import MACHINE_USER, Coding
from nlp_coder.refi.read import read_qdpx

CSV_COLUMNS = ("document", "start", "end", "code", "coder")
INVALID = "E120"
"""The catalogue code of a codings file that is not valid."""


@dataclass(frozen=True)
class Unit:
    """A passage that was up for coding (a fragment), whether or not anyone coded it."""

    document: str
    start: int
    end: int


@dataclass(frozen=True)
class CodedInput:
    """Codings read from one file, the document lengths where known, and the passages that
    were up for coding where known (the fragments of a suggest run)."""

    path: str
    codings: tuple[Coding, ...]
    lengths: tuple[tuple[str, int], ...] = ()
    units: tuple[Unit, ...] = ()
    warnings: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()  # every document the file covers, coded or not
    scope: tuple[Unit, ...] = ()  # passages the comparison is limited to (a sample's fragments)

    @property
    def coders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.coder for c in self.codings))


def read_codings(path: str | Path) -> CodedInput:
    """Read codings from a ``.qdpx``, a codings ``.csv`` or a suggest ``.jsonl``."""
    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix == ".qdpx":
        project = read_qdpx(path)
        return CodedInput(str(path), project.codings, tuple((d.id, len(d.text)) for d in project.documents),
                          warnings=project.warnings, documents=tuple(d.id for d in project.documents),
                          scope=tuple(Unit(*m) for m in project.markers))
    if suffix == ".csv":
        codings, documents = _read_csv(path)
        return CodedInput(str(path), codings, documents=documents)
    if suffix == ".jsonl":
        return read_suggest_jsonl(path)
    raise InputError(f"cannot read codings from a {path.suffix or 'file without suffix'}", str(path),
                     "Give a .qdpx project, a codings .csv (document,start,end,code,coder) or a suggest .jsonl",
                     code="E104")


def _text(path: Path) -> str:
    data = read_limited(path, str(path), limit="MAX_TABLE_BYTES", fix="Split it into several files")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", str(path), "Save it as UTF-8", code="E102") from None


def _rows(path: Path) -> csv.DictReader:
    """A CSV file's rows, with the header's names stripped."""
    reader = csv.DictReader(io.StringIO(_text(path), newline=""))
    try:
        reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as error:
        raise csv_problem(error, str(path), reader.line_num, INVALID) from None
    return reader


def read_passages(path: str | Path) -> tuple[Unit, ...]:
    """The passages of a sample or codings file, to limit a comparison to (``agree --within``):
    every row of a CSV (coded or not), the sample fragments of a ``.qdpx`` (else its coded
    passages), every fragment of a suggest JSONL."""
    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix == ".csv":
        reader = _rows(path)
        out = []
        try:
            for line, row in enumerate(reader, start=2):
                try:
                    out.append(Unit(row["document"].strip(), int(row["start"]), int(row["end"])))
                except (KeyError, AttributeError, TypeError, ValueError):
                    raise InputError("the row has no document, start and end", f"{path}:{line}",
                                     "Give the sample CSV that 'nlp-coder sample' wrote", code=INVALID) from None
        except csv.Error as error:
            raise csv_problem(error, str(path), reader.line_num, INVALID) from None
        return tuple(out)
    read = read_codings(path)
    if read.scope:
        return read.scope
    return read.units or tuple(dict.fromkeys(Unit(c.document, c.start, c.end) for c in read.codings))


def read_codings_csv(path: str | Path) -> tuple[Coding, ...]:
    """Codings from a CSV with the columns ``document, start, end, code, coder``.

    Rows with an empty ``code`` are skipped (a sample not yet coded); extra columns are ignored.
    """
    return _read_csv(Path(path))[0]


def _read_csv(path: Path) -> tuple[tuple[Coding, ...], tuple[str, ...]]:
    reader = _rows(path)
    header = list(reader.fieldnames or [])
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"the codings CSV has no column {', '.join(missing)}", str(path),
                         f"Give the columns {', '.join(CSV_COLUMNS)}", code=INVALID)
    out: list[Coding] = []
    documents: dict[str, None] = {}
    try:
        line = reader.line_num + 1
        for row in reader:
            where = f"{path}:{line}"
            line = reader.line_num + 1  # where the next row starts (a quoted value may span lines)
            if (row.get("document") or "").strip():
                documents.setdefault(row["document"].strip(), None)
            if not (row.get("code") or "").strip():
                continue
            try:
                start, end = int(row["start"]), int(row["end"])
            except (TypeError, ValueError):
                raise InputError(f"start and end must be whole numbers, not {_snippet(row['start'])!r}, "
                                 f"{_snippet(row['end'])!r}", where,
                                 "Use the character offsets that 'nlp-coder segment' prints", code=INVALID) from None
            if not 0 <= start < end:
                raise InputError(f"start {_snippet(str(start))} and end {_snippet(str(end))} are not a passage "
                                 "(0 <= start < end)", where, code=INVALID)
            document, coder = (row["document"] or "").strip(), (row["coder"] or "").strip()
            if not document or not coder:
                raise InputError("the row has no document or no coder", where, "Fill in both", code=INVALID)
            out.append(Coding(document, start, end, row["code"].strip(), coder))
    except csv.Error as error:
        raise csv_problem(error, str(path), reader.line_num, INVALID) from None
    return tuple(out), tuple(documents)


def _snippet(value: object, size: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= size else text[: size - 1] + "…"


def read_suggest_jsonl(path: str | Path) -> CodedInput:
    """The machine's codings in a ``suggest`` JSONL (coded and overlap fragments, facets too),
    with every fragment as a unit."""
    path = Path(path)
    codings: list[Coding] = []
    units: list[Unit] = []
    fix = "Give the .jsonl that 'nlp-coder suggest' wrote"
    for line, text in enumerate(jsonl_lines(_text(path)), start=1):
        if not text.strip():
            continue
        try:
            record = load_json(text)
        except JsonProblem as problem:
            if problem.limit is not None:
                raise exceeded(f"the line is {problem.message}", f"{path}:{line}", problem.limit, fix) from None
            raise InputError(f"not a line of suggest JSONL output (not valid JSON: {problem.message})",
                             f"{path}:{line}", fix, code=INVALID) from None
        try:
            unit = Unit(str(record["document"]), int(record["start"]), int(record["end"]))
            groups = [record] + list((record.get("facets") or {}).values())
            codes = [code for group in groups for code in group.get("codes", [])]
        except (ValueError, OverflowError, KeyError, TypeError, AttributeError):
            raise InputError("not a line of suggest JSONL output", f"{path}:{line}", fix, code=INVALID) from None
        if not all(isinstance(code, str) for code in codes):
            raise InputError("not a line of suggest JSONL output (a code is not text)", f"{path}:{line}", fix,
                             code=INVALID)
        units.append(unit)
        codings.extend(Coding(unit.document, unit.start, unit.end, code, MACHINE_USER) for code in codes)
    return CodedInput(str(path), tuple(codings), units=tuple(units),
                      documents=tuple(dict.fromkeys(u.document for u in units)))
