"""Reading a gold file: fragments with the codes a human gave them (``nlp-coder evaluate``).

CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``/``.json``) with columns ``id``, ``text``, ``codes``
(one code or several separated by ``;``, empty when the human left the fragment uncoded) and
optionally ``document``, ``speaker`` and ``context`` (the text just before the fragment).
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
    """Read a gold file: CSV (``.csv``/``.tsv``) or JSONL (``.jsonl``/``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("gold file not found", str(path), "Give a CSV or JSONL file of coded fragments")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("gold file is not UTF-8 text", str(path), "Save it as UTF-8") from exc
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        rows = _jsonl_rows(text, str(path))
    elif suffix in {".csv", ".tsv", ".txt"}:
        dialect = "excel-tab" if suffix == ".tsv" else "excel"
        rows = [(i + 2, r) for i, r in enumerate(csv.DictReader(io.StringIO(text), dialect=dialect))]
        header = next(csv.reader(io.StringIO(text), dialect=dialect), [])
        _check_columns(header, str(path))
    else:
        raise InputError(f"unknown gold format '{suffix or path.name}'", str(path), "Use .csv or .jsonl")
    return parse_gold(rows, str(path))


def _jsonl_rows(text: str, source: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", f"{source}:{number}") from exc
        if not isinstance(item, dict):
            raise InputError("each line must be a JSON object", f"{source}:{number}")
        _check_columns(list(item), f"{source}:{number}")
        rows.append((number, item))
    return rows


def _check_columns(columns: Sequence[str], where: str) -> None:
    missing = [c for c in ("id", "text", "codes") if c not in columns]
    if missing:
        raise InputError(f"gold file lacks column(s) {', '.join(missing)}", where,
                         "A gold file needs id, text and codes (optional: document, speaker, context)")


def parse_gold(rows: Sequence[tuple[int, dict[str, object]]], source: str = "<gold>") -> tuple[GoldFragment, ...]:
    """Gold fragments from (line number, row) pairs; ids must be unique and texts non-empty."""
    out: list[GoldFragment] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        where = f"{source}:{number}"
        fid = str(row.get("id") or "").strip()
        if not fid:
            raise InputError("fragment has no id", where)
        if fid in seen:
            raise InputError(f"duplicate id '{fid}' (first on line {seen[fid]})", where, "Ids must be unique")
        seen[fid] = number
        text = str(row.get("text") or "").strip()
        if not text:
            raise InputError(f"fragment '{fid}' has no text", where)
        raw = row.get("codes")
        items = raw if isinstance(raw, list) else str(raw or "").split(";")
        codes = tuple(dict.fromkeys(str(c).strip() for c in items if str(c).strip()))
        speaker = str(row.get("speaker") or "").strip() or None
        out.append(GoldFragment(fid, text, codes, str(row.get("document") or "").strip(), speaker,
                                str(row.get("context") or "").strip()))
    if not out:
        raise InputError("gold file has no fragments", source)
    return tuple(out)


def gold_sha256(gold: Sequence[GoldFragment]) -> str:
    digest = hashlib.sha256()
    for g in gold:
        digest.update(json.dumps([g.id, g.text, list(g.codes), g.document, g.speaker, g.context]).encode())
    return digest.hexdigest()
