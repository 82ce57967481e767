"""Reading a gold file: fragments with the codes a human gave them (``nlp-coder evaluate``).

CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``/``.json``) with columns ``id``, ``text``, ``codes``
(one code or several separated by ``;``, empty when the human left the fragment uncoded) and
optionally ``document``, ``speaker`` and ``context`` (the text just before the fragment).

Every problem is an :class:`~nlp_coder.errors.InputError`: ``E121`` for a gold file that is not
valid, ``E101``/``E102``/``E104`` for one that is missing, not UTF-8 or of an unknown format,
``E105`` for one beyond a safety limit (:mod:`nlp_coder.readers.limits`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp_coder.errors import InputError
from nlp_coder.readers.limits import JsonProblem, exceeded, load_json, read_limited
from nlp_coder.readers.tables import csv_problem, jsonl_lines

INVALID = "E121"
"""The catalogue code of a gold file that is not valid."""


@dataclass(frozen=True)
class GoldFragment:
    """A fragment with the codes a human gave it (empty ``codes``: left uncoded)."""

    id: str
    text: str
    codes: tuple[str, ...]
    document: str = ""
    speaker: str | None = None
    context: str = ""



def read_gold(path: str | Path) -> tuple[GoldFragment, ...]:
    """Read a gold file: CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``/``.json``).

    Raises:
        InputError: the file is missing (``E101``), not UTF-8 (``E102``), of an unknown format
            (``E104``), beyond a safety limit (``E105``), or not a valid gold file (``E121``).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError("gold file not found", where, "Give a CSV or JSONL file of coded fragments", code="E101")
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt"}:
        raise InputError(f"unknown gold format '{suffix or path.name}'", where, "Use .csv or .jsonl", code="E104")
    data = read_limited(path, where, limit="MAX_TABLE_BYTES", what="gold file", fix="Split it into several files")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"gold file is not UTF-8 text (byte {exc.start})", where, "Save it as UTF-8",
                         code="E102") from None
    if suffix in {".jsonl", ".json", ".ndjson"}:
        rows = _jsonl_rows(text, where)
    else:
        rows = _csv_rows(text, where, "excel-tab" if suffix == ".tsv" else "excel")
    return parse_gold(rows, where)


def _csv_rows(text: str, source: str, dialect: str) -> list[tuple[int, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    rows: list[tuple[int, dict[str, object]]] = []
    try:
        _check_columns(reader.fieldnames or [], source)
        start = reader.line_num + 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise csv_problem(error, source, reader.line_num, INVALID) from None
    return rows


def _jsonl_rows(text: str, source: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            item = load_json(line)
        except JsonProblem as problem:
            if problem.limit is not None:
                raise exceeded(f"the line is {problem.message}", f"{source}:{number}", problem.limit,
                               "Give each fragment's id, text and codes as flat values") from None
            raise InputError(f"not valid JSON ({problem.message})", f"{source}:{number}", code=INVALID) from None
        if not isinstance(item, dict):
            raise InputError("each line must be a JSON object", f"{source}:{number}", code=INVALID)
        _check_columns(list(item), f"{source}:{number}")
        rows.append((number, item))
    return rows


def _check_columns(columns: Sequence[str], where: str) -> None:
    missing = [c for c in ("id", "text", "codes") if c not in columns]
    if missing:
        raise InputError(f"gold file lacks column(s) {', '.join(missing)}", where,
                         "A gold file needs id, text and codes (optional: document, speaker, context)", code=INVALID)


def parse_gold(rows: Sequence[tuple[int, dict[str, object]]], source: str = "<gold>") -> tuple[GoldFragment, ...]:
    """Gold fragments from (line number, row) pairs; ids must be unique and texts non-empty.

    Raises:
        InputError: a row has no id or no text, an id appears twice, or there is no row (``E121``).
    """
    out: list[GoldFragment] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        where = f"{source}:{number}"
        fid = str(row.get("id") or "").strip()
        if not fid:
            raise InputError("fragment has no id", where, code=INVALID)
        if fid in seen:
            raise InputError(f"duplicate id '{_snippet(fid)}' (first on line {seen[fid]})", where, "Ids must be unique",
                             code=INVALID)
        seen[fid] = number
        text = str(row.get("text") or "").strip()
        if not text:
            raise InputError(f"fragment '{_snippet(fid)}' has no text", where, code=INVALID)
        raw = row.get("codes")
        items = raw if isinstance(raw, list) else str(raw or "").split(";")
        codes = tuple(dict.fromkeys(str(c).strip() for c in items if str(c).strip()))
        speaker = str(row.get("speaker") or "").strip() or None
        out.append(GoldFragment(fid, text, codes, str(row.get("document") or "").strip(), speaker,
                                str(row.get("context") or "").strip()))
    if not out:
        raise InputError("gold file has no fragments", source, code=INVALID)
    return tuple(out)


def _snippet(value: str, size: int = 60) -> str:
    value = " ".join(value.split())
    return value if len(value) <= size else value[: size - 1] + "…"


def gold_sha256(gold: Sequence[GoldFragment]) -> str:
    digest = hashlib.sha256()
    for g in gold:
        digest.update(json.dumps([g.id, g.text, list(g.codes), g.document, g.speaker, g.context]).encode())
    return digest.hexdigest()
