"""Write suggestions as JSONL, CSV, JSON or Markdown (formats: ``docs/output.md``).

Output is deterministic: the same results give the same bytes. Files are written to a temporary
file beside the target and moved into place only when complete, so a failed run never leaves a
half-written output. Outputs hold transcript text, so a new file is created owner-only (0600)
and a new folder 0700, whatever the umask; a file that is replaced keeps its mode.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import orjson

from nlp_coder.errors import InputError, OutputError
from nlp_coder.records import Codebook, Fragment, RunManifest
from nlp_coder.store import make_private_folders, manifest_json

if TYPE_CHECKING:
    from nlp_coder.match.decide import Decisions

FORMATS = ("jsonl", "csv", "json", "md")


def fragment_record(f: Fragment) -> dict[str, object]:
    """A fragment as the JSON object used by ``segment`` output."""
    return {
        "document": f.document,
        "fragment_id": f.id,
        "speaker": f.speaker,
        "turn": f.turn,
        "start": f.start,
        "end": f.end,
        "timestamp": f.timestamp,
        "text": f.text,
        "attributes": dict(sorted(f.attributes.items())),
    }


def json_line(record: dict[str, object]) -> str:
    """A record as one line of JSONL (compact, UTF-8 text, no newline)."""
    return orjson.dumps(record).decode("utf-8")


def decision_records(decided: Decisions) -> list[dict[str, object]]:
    """One dictionary per fragment: the objects of the JSONL output (``docs/output.md``), made
    from the decisions' columns."""
    facets = decided.groups[1:]
    records = []
    for i, f in enumerate(decided.fragments):
        picks = decided.picks[i]
        record = fragment_record(f)
        attributes = record.pop("attributes")  # last
        record.update(_group_record(decided, i, picks[0]))
        record["facets"] = {name: _group_record(decided, i, pick) for name, pick in zip(facets, picks[1:])}
        record["attributes"] = attributes
        records.append(record)
    return records


def decision_lines(decided: Decisions) -> list[str]:
    """The JSONL lines of the decisions (:func:`decision_records`, one compact line each): what
    ``suggest`` writes and what the store keeps."""
    dumps = orjson.dumps
    return [dumps(record).decode("utf-8") for record in decision_records(decided)]


def _group_record(decided: Decisions, i: int, pick: tuple[str, list[int], list[int]]) -> dict[str, object]:
    """One group's decision on fragment ``i`` as :func:`_decision` writes it."""
    status, chosen, shown = pick
    codes = decided.codes
    score, above, nearest = decided.score[i], decided.above[i], decided.nearest[i]
    exemplar_sim, definition_sim = decided.exemplar_similarity[i], decided.definition_similarity[i]
    suggestions = []
    for j in shown:
        code, e, d, k = codes[j], exemplar_sim[j], definition_sim[j], nearest[j]
        suggestions.append({
            "code": code.id,
            "name": code.name,
            "score": score[j],
            "above_threshold": above[j],
            "exemplar": code.examples[k] if k >= 0 else None,
            "exemplar_similarity": None if e != e else e,  # NaN: the code has no exemplar
            "definition_similarity": None if d != d else d,  # NaN: the code has no definition
        })
    return {"status": status, "codes": [codes[j].id for j in chosen], "suggestions": suggestions}


def _jsonl(records: Sequence[dict[str, object]]) -> str:
    return "".join(json_line(r) + "\n" for r in records)


def render_results(decided: Decisions, fmt: str, manifest: RunManifest | None = None,
                   codebook: Codebook | None = None, notes: Sequence[str] = ()) -> str:
    """The decisions in one of :data:`FORMATS`, as text (every format from the same records).

    ``notes`` are the run's lines about how it decided (:attr:`Summary.notes`), kept in the
    summary of the ``json`` and ``md`` formats.
    """
    records = decision_records(decided)
    if fmt == "jsonl":
        return _jsonl(records)
    if fmt == "json":
        body = {
            "manifest": json.loads(manifest_json(manifest)) if manifest else None,
            "summary": replace(summarise(decided, codebook), notes=tuple(notes)).as_dict() if codebook else None,
            "fragments": records,
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        facets = [f.name for f in codebook.facets] if codebook is not None else [g for g in decided.groups[1:] if g]
        return _csv(records, facets)
    if fmt == "md":
        return _markdown(records, manifest, replace(summarise(decided, codebook), notes=tuple(notes))
                         if codebook else None)
    raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(FORMATS)}", code="E104")


def render_fragments(fragments: Sequence[Fragment], fmt: str) -> str:
    """Fragments (``segment`` output) as JSONL, JSON, CSV or Markdown."""
    records = [fragment_record(f) for f in fragments]
    if fmt == "jsonl":
        return _jsonl(records)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        keys = sorted({k for f in fragments for k in f.attributes})
        rows = [[r[c] for c in ("document", "fragment_id", "speaker", "turn", "start", "end", "timestamp", "text")]
                + [f.attributes.get(k, "") for k in keys] for r, f in zip(records, fragments)]
        return csv_text(["document", "fragment_id", "speaker", "turn", "start", "end", "timestamp", "text", *keys],
                         rows)
    if fmt == "md":
        lines = ["| fragment | speaker | text |", "|---|---|---|"]
        lines += [f"| {f.id} | {f.speaker or ''} | {_cell(f.text)} |" for f in fragments]
        return "\n".join(lines) + "\n"
    raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(FORMATS)}", code="E130")


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    """A CSV table as text (``\n`` line endings; ``None`` written as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue()


def _csv(records: Sequence[dict[str, Any]], facet_names: Sequence[str]) -> str:
    """One row per fragment: the decision, then ``code_N``/``score_N`` for every suggestion listed
    (the best one with its nearest exemplar), then each facet, then the attributes."""
    keys = sorted({k for r in records for k in r["attributes"]})
    width = max((len(r["suggestions"]) for r in records), default=1)
    header = ["document", "fragment_id", "speaker", "turn", "start", "end", "timestamp", "text", "status", "codes",
              "code_1", "score_1", "exemplar_1"]
    for n in range(2, width + 1):
        header += [f"code_{n}", f"score_{n}"]
    for name in facet_names:
        header += [f"{name}_status", f"{name}_codes", f"{name}_score"]
    header += keys
    rows = []
    for r in records:
        shown = r["suggestions"]
        top: list[dict[str, Any] | None] = [*shown, *[None] * (width - len(shown))]
        row: list[object] = [r["document"], r["fragment_id"], r["speaker"], r["turn"], r["start"], r["end"],
                             r["timestamp"], r["text"], r["status"], ";".join(r["codes"])]
        first = top[0]
        row += [first["code"], first["score"], first["exemplar"] or ""] if first else ["", "", ""]
        for s in top[1:]:
            row += [s["code"] if s else "", s["score"] if s else ""]
        for name in facet_names:
            fd = r["facets"].get(name)
            if fd is None:
                row += ["", "", ""]
            else:
                row += [fd["status"], ";".join(fd["codes"]), fd["suggestions"][0]["score"] if fd["suggestions"] else ""]
        row += [r["attributes"].get(k, "") for k in keys]
        rows.append(row)
    return csv_text(header, rows)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown(records: Sequence[dict[str, Any]], manifest: RunManifest | None, summary: Summary | None) -> str:
    lines = ["# Suggested codes", ""]
    if manifest:
        lines += [f"Codebook: {manifest.codebook} (`{manifest.codebook_sha256[:12]}`), model: {manifest.model}, "
                  f"nlp_coder {manifest.tool_version}. Parameters: "
                  + ", ".join(f"{k}={v}" for k, v in manifest.parameters if k in ("unit", "threshold", "margin"))
                  + ".", ""]
    if summary:
        lines += [summary.as_markdown(), ""]
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_doc.setdefault(r["document"], []).append(r)
    for doc, items in by_doc.items():
        facet_column = any(r["facets"] for r in items)
        header = "| fragment | speaker | text | status | codes | best score | nearest exemplar |"
        rule = "|---|---|---|---|---|---|---|"
        lines += [f"## {doc}", "", header + (" facets |" if facet_column else ""),
                  rule + ("---|" if facet_column else "")]
        for r in items:
            best = r["suggestions"][0] if r["suggestions"] else None
            facets = "; ".join(f"{name}: {', '.join(d['codes'])}" for name, d in r["facets"].items() if d["codes"])
            lines.append(
                f"| {r['fragment_id'].rsplit('#', 1)[-1]} | {r['speaker'] or ''} | {_cell(r['text'])} | "
                f"{r['status']} | {', '.join(r['codes'])} | {best['score'] if best else ''} | "
                f"{_cell(best['exemplar'] or '') if best else ''} |" + (f" {facets} |" if facet_column else "")
            )
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class Summary:
    """Counts of a run: fragments per status, and per code (parents roll up their children)."""

    fragments: int
    status: tuple[tuple[str, int], ...]
    codes: tuple[tuple[str, str, int, int], ...]  # (code id, name, depth, fragments)
    facets: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    notes: tuple[str, ...] = ()
    """Lines about how the run decided (``--threshold auto``: the value chosen and why)."""
    advice: str | None = None
    """What to do when most fragments are uncoded, where the thresholds did not come from
    ``--threshold`` (a learned model's calibrated thresholds, pilot training); None: the default advice."""

    @property
    def warning(self) -> str | None:
        """One line when more than half the fragments are uncoded, saying what to do; else None."""
        uncoded = dict(self.status).get("uncoded", 0)
        if not self.fragments or uncoded * 2 <= self.fragments:
            return None
        advice = self.advice or ("lower --threshold, add exemplars to the codes, or run 'nlp-coder sensitivity' "
                                 "for a threshold fitted to the codebook (suggest --threshold auto uses it)")
        verb = "is" if uncoded == 1 else "are"
        return (f"{uncoded} of {self.fragments} fragment{'s' if self.fragments != 1 else ''} "
                f"({uncoded / self.fragments:.0%}) {verb} uncoded: {advice}")

    def as_dict(self) -> dict[str, object]:
        return {
            "fragments": self.fragments,
            "status": dict(self.status),
            "codes": {code: count for code, _, _, count in self.codes},
            "facets": {name: dict(counts) for name, counts in self.facets},
            "notes": list(self.notes),
            "warning": self.warning,
        }

    def as_text(self) -> str:
        width = max((len(name) + 2 * depth for _, name, depth, _ in self.codes), default=10)
        out = [f"{self.fragments} fragment{'s' if self.fragments != 1 else ''}: "
               + ", ".join(f"{n} {s}" for s, n in self.status)]
        out.append("fragments per code (coded or overlap; parents include their children):")
        for _, name, depth, count in self.codes:
            out.append(f"  {'  ' * depth}{name:<{width - 2 * depth}}  {count:>5}")
        for facet, counts in self.facets:
            out.append(f"facet {facet}: " + ", ".join(f"{c} {n}" for c, n in counts))
        out.extend(self.notes)
        if self.warning is not None:
            out.append(f"warning: {self.warning}")
        return "\n".join(out)

    def as_markdown(self) -> str:
        out = ["| status | fragments |", "|---|---|"] + [f"| {s} | {n} |" for s, n in self.status]
        out += ["", "| code | fragments |", "|---|---|"]
        out += [f"| {'&nbsp;&nbsp;' * depth}{name} | {count} |" for _, name, depth, count in self.codes]
        if self.notes:
            out += ["", *self.notes]
        return "\n".join(out)


class Tally:
    """Counts fragments per status and per code as results arrive, batch by batch, so a run
    that never holds all its results can still be summarised."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.fragments = 0
        self.status: Counter[str] = Counter()
        self.per_code: Counter[str] = Counter()

    def add(self, decided: Decisions) -> None:
        """Count a chunk's decisions (a code counts its descendants' fragments too)."""
        self.fragments += len(decided)
        self.status.update(picks[0][0] for picks in decided.picks)
        counts = decided.assigned.sum(axis=0).tolist()
        self.per_code.update({code.id: n for code, n in zip(decided.codes, counts) if n})

    def summary(self) -> Summary:
        book, per_code = self.codebook, self.per_code
        rows = [(code.id, code.name, len(book.ancestors(code.id)), per_code[code.id]) for code in book.group(None)]
        facets = tuple(
            (facet.name, tuple((c.id, per_code[c.id]) for c in book.group(facet.name))) for facet in book.facets
        )
        return Summary(
            fragments=self.fragments,
            status=tuple((s, self.status[s]) for s in ("coded", "overlap", "uncoded")),
            codes=tuple(rows),
            facets=facets,
        )


def summarise(decided: Decisions, codebook: Codebook) -> Summary:
    """Count fragments per status and per code; a code's count includes its descendants."""
    tally = Tally(codebook)
    tally.add(decided)
    return tally.summary()


def select(decided: Decisions, codebook: Codebook, where: Sequence[str]) -> Decisions:
    """The fragments assigned every code in ``where`` (AND), e.g. ``positive-feedback`` and
    ``clinical``; a container code matches any of its descendants.

    Raises:
        InputError: ``E130`` for a code the codebook does not have.
    """
    check_codes(codebook, where)
    if not where:
        return decided
    return decided.take([int(i) for i in decided.having(where).nonzero()[0]])


def check_codes(codebook: Codebook, where: Sequence[str]) -> None:
    """Refuse a ``--where`` code the codebook does not have (before any work is done)."""
    known = {c.id for c in codebook.codes}
    for code in where:
        if code not in known:
            raise InputError(f"unknown code '{code}'", "--where", "Use code ids from 'nlp-coder codebook show'",
                             code="E130")


def check_writable(path: str | Path) -> None:
    """Refuse an output file that cannot be written, before any work is done; nothing is created.

    ``path`` must not be a folder, a read-only file or anything but a regular file, and its folder
    must be a folder you can write in. A folder that does not exist yet is fine when it can be
    made (the nearest existing folder above it is writable): writing creates it. (Run as root,
    permissions never refuse; the check still finds folders and files in the way.)

    Raises:
        OutputError: ``E400``, saying what is wrong with which path and how to fix it.
    """
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise OutputError("the output path is a folder", where, "Give a file name, e.g. out/suggestions.jsonl")
    if path.exists():
        if not path.is_file():
            raise OutputError("the output path is not a regular file", where,
                              "Give a file name; leave out --out to write to standard output")
        if not os.access(path, os.W_OK):
            raise OutputError("the output file is read-only", where,
                              "Make it writable (chmod u+w) or give another file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing folder: writing creates those below it
    if not folder.is_dir():
        raise OutputError(f"cannot make the output's folder: '{folder}' is not a folder", where,
                          "Give a path whose folders are folders")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"the folder '{folder}' is not writable", where,
                          "Choose a folder you can write in, or change its permissions")


def _write_error(exc: OSError, path: Path) -> OutputError:
    """An error while writing ``path`` as a one-line :class:`OutputError`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "Free disk space or write to another disk"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "Choose a folder you can write in"
    else:
        fix = "Choose another output file"
    return OutputError(f"cannot write the output ({exc.strerror or exc})", str(path), fix)


class _Output:
    """The temporary file as :func:`atomic_output` hands it out: an error writing it is an
    :class:`OutputError`."""

    def __init__(self, raw: BinaryIO, path: Path) -> None:
        self._raw = raw
        self._path = path

    def write(self, data: bytes) -> int:
        try:
            return self._raw.write(data)
        except OSError as exc:
            raise _write_error(exc, self._path) from exc

    def flush(self) -> None:
        try:
            self._raw.flush()
        except OSError as exc:
            raise _write_error(exc, self._path) from exc

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8 when a string) to ``path`` via a temporary file beside it, so the
    target is never half-written (see :func:`atomic_output`).

    Raises:
        OutputError: ``E400``, the file cannot be written; no temporary file is left behind.
    """
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8") if isinstance(text, str) else text)


@contextmanager
def atomic_output(path: str | Path | None) -> Iterator[BinaryIO]:
    """A binary file to write a result into bit by bit: a temporary file beside ``path``, moved
    into place when the block ends without error and removed otherwise. ``None`` writes to
    standard output as it comes.

    A new file is owner-only (0600, whatever the umask; so is the temporary file from the
    start), missing folders are created 0700, and a file that is replaced keeps its mode.

    Raises:
        OutputError: ``E400``, the file cannot be written (:func:`check_writable`'s cases, a full
            disk, a write error); the temporary file is removed and an existing file is left as
            it was.
    """
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(path)
    check_writable(path)
    try:
        make_private_folders(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(exc, path) from exc
    try:
        try:
            os.fchmod(fd, 0o600)  # mkstemp asks for 0600, which a umask can still cut
        except OSError as exc:
            os.close(fd)
            raise _write_error(exc, path) from exc
        raw = os.fdopen(fd, "wb")
        try:
            yield cast(BinaryIO, _Output(raw, path))
        except BaseException:
            with suppress(OSError):
                raw.close()
            raise
        try:
            raw.close()  # flushes: a full disk shows here
            try:
                mode = os.stat(path).st_mode & 0o777
            except FileNotFoundError:
                pass
            else:
                os.chmod(tmp, mode)  # replacing a file keeps its mode
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
