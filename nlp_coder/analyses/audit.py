"""Audit human coding against the codebook (``nlp-coder check``).

Three findings, for a researcher to review (nothing is changed):

* **missed**: fragments no human coded that score at or above a code's threshold, best first,
  each with the human-coded passages of that code most similar to it as evidence (only the
  codes of groups the coders use: the main codes, and facets with at least one coding);
* **doubtful**: human codings whose passage scores below its code's threshold, or scores
  higher (by more than the margin) for another code that is not its ancestor or descendant;
* a **summary** per code: codings, their mean score, doubtful and missed counts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp_coder.codebook import load_codebook
from nlp_coder.embed.models import Embedder, load_embedder
from nlp_coder.errors import InputError
from nlp_coder.match.matcher import build_matcher, codebook_texts
from nlp_coder.records import Document, Fragment
from nlp_coder.refi.model import Coding
from nlp_coder.run import SuggestOptions, match_settings, read_and_segment
from nlp_coder.segment import SegmentOptions
from nlp_coder.store import Store, embed_cached

if TYPE_CHECKING:
    from nlp_coder.privacy.pseudonymise import Pseudonymiser

EVIDENCE = 3
AUDIT_FORMATS = ("text", "csv", "jsonl", "qdpx")
"""What an audit is written as (``docs/commands/check.md``)."""
#: The user an audit's findings are recorded under in a ``.qdpx``.
AUDIT_USER = "nlp-coder check"


@dataclass(frozen=True)
class Evidence:
    """A human-coded passage similar to a flagged one."""

    document: str
    start: int
    end: int
    text: str
    similarity: float


@dataclass(frozen=True)
class Finding:
    """A passage to review: ``missed`` (uncoded, scores high for ``code``) or ``doubtful`` (coded
    ``code`` by ``coder``, but scores low for it or higher for ``other``)."""

    kind: str
    document: str
    start: int
    end: int
    text: str
    code: str
    score: float
    threshold: float
    other: str | None = None
    other_score: float | None = None
    coder: str | None = None
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class CodeSummary:
    code: str
    name: str
    codings: int
    mean_score: float | None
    doubtful: int
    missed: int


@dataclass(frozen=True)
class Audit:
    missed: tuple[Finding, ...]
    doubtful: tuple[Finding, ...]
    summary: tuple[CodeSummary, ...]
    documents: tuple[Document, ...]
    warnings: tuple[str, ...] = ()


class _Coverage:
    """Which text any coding covers, per document, for fast overlap tests."""

    def __init__(self, codings: Sequence[Coding]) -> None:
        spans: dict[str, list[tuple[int, int]]] = {}
        for c in codings:
            spans.setdefault(c.document, []).append((c.start, c.end))
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for doc, items in spans.items():
            starts, ends = self._starts.setdefault(doc, []), self._ends.setdefault(doc, [])
            for start, end in sorted(items):
                if starts and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)
                else:
                    starts.append(start)
                    ends.append(end)

    def overlaps(self, fragment: Fragment) -> bool:
        ends = self._ends.get(fragment.document, [])
        i = bisect_right(ends, fragment.start)  # the first covered span ending after the fragment starts
        return i < len(ends) and self._starts[fragment.document][i] < fragment.end


def audit(project: str | Path, codebook: str | Path, store_path: str | Path, *, codings: str | Path | None = None,
          segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
          metadata: str | Path | None = None, embedder: Embedder | None = None) -> Audit:
    """Check a coded project: probably missed fragments, doubtful codings, and a per-code summary.

    Args:
        project: a ``.qdpx`` project (its human codings are checked), or a corpus with ``codings``.
        codebook: the codebook to score against (YAML, ``.qdc`` or the project itself).
        store_path: the project store (embedding cache).
        codings: a codings CSV, for a corpus that is not a ``.qdpx``.
    """
    from nlp_coder.refi import MACHINE_USER, read_codings, read_qdpx

    options = options or SuggestOptions()
    book = load_codebook(codebook)
    settings = match_settings(book, options)
    seg = read_and_segment(project, segment_options or SegmentOptions(), metadata)
    if codings is not None:
        human = read_codings(codings).codings
    elif Path(project).suffix.casefold() == ".qdpx":
        human = read_qdpx(project).codings
    else:
        raise InputError("no human codings to check", str(project),
                         "Give a .qdpx project, or the codings as a CSV with --codings", code="E120")
    human = tuple(c for c in human if not c.coder.startswith(MACHINE_USER))
    texts = {d.id: d.text for d in seg.documents}
    known = {c.id for c in book.codes}
    warnings = list(seg.warnings)
    outside = sorted({c.code for c in human if c.code not in known})
    if outside:
        warnings.append(f"codes not in the codebook are not checked: {', '.join(outside)}")
    missing_docs = sorted({c.document for c in human if c.document not in texts})
    if missing_docs:
        warnings.append(f"codings of unknown documents are not checked: {', '.join(missing_docs[:5])}")
    human = tuple(c for c in human if c.code in known and c.document in texts)
    passages = sorted({(c.document, c.start, c.end) for c in human})
    passage_texts = [texts[d][s:e] for d, s, e in passages]
    embedder = embedder or load_embedder(options.model, batch_size=min(options.batch_size, 128))
    with Store(store_path) as store:
        code_texts = codebook_texts(book)
        code_vectors, _ = embed_cached(store, embedder, code_texts)
        lookup = dict(zip(code_texts, code_vectors))
        matcher = build_matcher(settings).fit(book, lookup)
        fragment_vectors, _ = embed_cached(store, embedder, [f.text for f in seg.fragments])
        passage_vectors, _ = embed_cached(store, embedder, passage_texts)
    fragment_scores = matcher.score(fragment_vectors).score
    passage_scores = matcher.score(passage_vectors).score if passages else np.zeros((0, len(book.codes)))
    column = {code_id: j for j, code_id in enumerate(matcher.codes_)}
    row_of = {p: i for i, p in enumerate(passages)}
    by_code: dict[str, list[int]] = {}
    for c in human:
        by_code.setdefault(c.code, []).append(row_of[(c.document, c.start, c.end)])

    def evidence(vector: np.ndarray, code: str, skip: tuple[str, int, int] | None = None) -> tuple[Evidence, ...]:
        rows = sorted(set(by_code.get(code, [])) - ({row_of[skip]} if skip in row_of else set()))
        if not rows:
            return ()
        sims = passage_vectors[rows] @ vector
        order = np.argsort(-sims, kind="stable")[:EVIDENCE]
        return tuple(Evidence(*passages[rows[k]], passage_texts[rows[k]], round(float(sims[k]), 4)) for k in order)

    codable = [c for c in book.codes if c.codable]
    # Only groups the coders use are searched: a facet nobody codes is not "missed" everywhere.
    used_groups = {book.code(c.code).facet for c in human} or {None}
    candidates = [c for c in codable if c.facet in used_groups]
    missed: list[Finding] = []
    coverage = _Coverage(human)
    for i, fragment in enumerate(seg.fragments):
        if coverage.overlaps(fragment):
            continue
        best = max(candidates, key=lambda c: (fragment_scores[i, column[c.id]] - matcher.threshold_for(c), c.id))
        score, threshold = float(fragment_scores[i, column[best.id]]), matcher.threshold_for(best)
        if score < threshold:
            continue
        missed.append(Finding("missed", fragment.document, fragment.start, fragment.end, fragment.text, best.id,
                              round(score, 4), threshold, reason=f"no human coded this; it scores {score:.3f} for "
                              f"'{best.name}' (threshold {threshold:.2f})",
                              evidence=evidence(fragment_vectors[i], best.id)))
    missed.sort(key=lambda f: (-f.score, f.document, f.start))

    doubtful: list[Finding] = []
    for c in sorted(set(human), key=lambda c: (c.document, c.start, c.end, c.code, c.coder)):
        key = (c.document, c.start, c.end)
        row = row_of[key]
        code = book.code(c.code)
        own, threshold = float(passage_scores[row, column[c.code]]), matcher.threshold_for(code)
        related = {c.code, *book.ancestors(c.code)} | {d.id for d in book.codes if c.code in book.ancestors(d.id)}
        others = [d for d in codable if d.id not in related and d.facet == code.facet]
        other = max(others, key=lambda d: (passage_scores[row, column[d.id]], d.id)) if others else None
        other_score = float(passage_scores[row, column[other.id]]) if other is not None else None
        reasons = []
        if own < threshold:
            reasons.append(f"scores {own:.3f} for '{code.name}', below its threshold {threshold:.2f}")
        if other is not None and other_score is not None and other_score > own + settings.margin:
            reasons.append(f"scores higher for '{other.name}' ({other_score:.3f} vs {own:.3f})")
        if reasons:
            doubtful.append(Finding("doubtful", c.document, c.start, c.end, passage_texts[row], c.code,
                                    round(own, 4), threshold, other.id if other else None,
                                    round(other_score, 4) if other_score is not None else None, c.coder,
                                    "; ".join(reasons), evidence(passage_vectors[row], c.code, key)))
    doubtful.sort(key=lambda f: (f.score - f.threshold, f.document, f.start, f.code))

    summary = []
    for code in book.codes:
        rows = by_code.get(code.id, [])
        scores = [float(passage_scores[r, column[code.id]]) for r in rows]
        summary.append(CodeSummary(code.id, code.name, len(rows), round(float(np.mean(scores)), 4) if scores else None,
                                   sum(f.code == code.id for f in doubtful), sum(f.code == code.id for f in missed)))
    return Audit(tuple(missed), tuple(doubtful), tuple(summary), seg.documents, tuple(warnings))


def finding_record(f: Finding) -> dict[str, object]:
    return {
        "kind": f.kind, "document": f.document, "start": f.start, "end": f.end, "code": f.code, "score": f.score,
        "threshold": f.threshold, "other_code": f.other, "other_score": f.other_score, "coder": f.coder,
        "reason": f.reason, "text": f.text,
        "evidence": [{"document": e.document, "start": e.start, "end": e.end, "similarity": e.similarity,
                      "text": e.text} for e in f.evidence],
    }


def audit_jsonl(report: Audit) -> str:
    import json

    records = [finding_record(f) for f in (*report.missed, *report.doubtful)]
    records += [{"kind": "summary", "code": s.code, "name": s.name, "codings": s.codings,
                 "mean_score": s.mean_score, "doubtful": s.doubtful, "missed": s.missed} for s in report.summary]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def audit_csv(report: Audit) -> str:
    from nlp_coder.export.tables import csv_text

    header = ["kind", "rank", "document", "start", "end", "code", "score", "threshold", "other_code", "other_score",
              "coder", "reason", "text", "evidence_1", "evidence_1_similarity", "evidence_2", "evidence_2_similarity"]
    rows: list[list[object]] = []
    for kind in (report.missed, report.doubtful):
        for rank, f in enumerate(kind, start=1):
            ev = list(f.evidence[:2]) + [None] * (2 - len(f.evidence[:2]))
            rows.append([f.kind, rank, f.document, f.start, f.end, f.code, f.score, f.threshold, f.other,
                         f.other_score, f.coder, f.reason, f.text,
                         *(x for e in ev for x in ((e.text, e.similarity) if e else ("", "")))])
    return csv_text(header, rows)


def audit_summary_text(report: Audit) -> str:
    width = max((len(s.name) for s in report.summary), default=4)
    lines = [f"{len(report.missed)} probably missed fragment(s), {len(report.doubtful)} doubtful coding(s)",
             f"{'code':<{width}}  codings  mean score  doubtful  missed"]
    for s in report.summary:
        mean = "" if s.mean_score is None else f"{s.mean_score:.3f}"
        lines.append(f"{s.name:<{width}}  {s.codings:>7}  {mean:>10}  {s.doubtful:>8}  {s.missed:>6}")
    return "\n".join(lines) + "\n"


def audit_codings(report: Audit) -> tuple[Coding, ...]:
    """The findings as codings of the user ``nlp-coder check``, each with a note, for a ``.qdpx``."""
    notes: dict[tuple[str, int, int, str], list[str]] = {}
    for f in (*report.missed, *report.doubtful):
        lines = [f"{f.kind}" + (f" (coded by {f.coder})" if f.coder else "") + f": {f.reason}"]
        lines += [f"similar human-coded passage ({e.similarity:.3f}, {e.document} {e.start}-{e.end}): \"{e.text}\""
                  for e in f.evidence]
        notes.setdefault((f.document, f.start, f.end, f.code), []).append("\n".join(lines))
    return tuple(Coding(d, s, e, code, AUDIT_USER, "\n\n".join(dict.fromkeys(n)))
                 for (d, s, e, code), n in notes.items())


def audit_qdpx(report: Audit, project: str | Path, codebook: str | Path) -> bytes:
    """``project`` (a ``.qdpx``) with every human coding untouched and each finding as a coding of
    the user ``nlp-coder check``, with a note (:func:`audit_codings`); earlier findings are replaced."""
    from nlp_coder.refi import build_qdpx, read_qdpx

    base = read_qdpx(project)
    return build_qdpx(documents=base.documents, codebook=load_codebook(codebook), codings=audit_codings(report),
                      base=base)


def write_audit(report: Audit, out: str | Path | None, fmt: str, *, project: str | Path | None = None,
                codebook: str | Path | None = None) -> None:
    """Write an audit as one of :data:`AUDIT_FORMATS` to ``out`` (standard output when None;
    ``qdpx`` needs ``out``, and the ``.qdpx`` ``project`` and ``codebook`` it was checked with)."""
    from nlp_coder.export.formats import emit

    if fmt == "qdpx":
        if out is None or project is None or codebook is None:
            raise InputError("a .qdpx of findings needs a .qdpx PROJECT and --out FILE.qdpx", "--format",
                             code="E131")
        from nlp_coder.refi import write_atomic_bytes

        write_atomic_bytes(out, audit_qdpx(report, project, codebook))
        return
    render = {"text": audit_summary_text, "csv": audit_csv, "jsonl": audit_jsonl}.get(fmt)
    if render is None:
        raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(AUDIT_FORMATS)}",
                         code="E130")
    emit(render(report), out)


def check_project(project: str | Path, codebook: str | Path, store_path: str | Path, *,
                  out: str | Path | None = None, fmt: str | None = None, codings: str | Path | None = None,
                  segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                  metadata: str | Path | None = None, embedder: Embedder | None = None,
                  pseudonymiser: Pseudonymiser | None = None) -> Audit:
    """Audit a project (:func:`audit`) and write the findings (:func:`write_audit`): what
    ``nlp-coder check`` does. With a ``pseudonymiser`` (``--pseudonymise``, already scanned) the
    findings written are pseudonymised; a ``.qdpx`` is then a new project of the pseudonymised
    documents with the human codings and the findings moved onto the new text.

    The format and the output are checked before any work: ``fmt`` defaults to the one ``out``'s
    suffix names (else ``text``); ``qdpx`` needs a ``.qdpx`` ``project`` and an ``out`` file.

    Raises:
        InputError: as for :func:`audit`, or a format that cannot be written.
        OutputError: ``out`` cannot be written (``E400``).
    """
    from nlp_coder.export.formats import check_output, format_for

    fmt = format_for(out, fmt, "text", formats=AUDIT_FORMATS)
    if fmt not in AUDIT_FORMATS:
        raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(AUDIT_FORMATS)}",
                         code="E130")
    if fmt == "qdpx" and (out is None or Path(project).suffix.casefold() != ".qdpx"):
        raise InputError("a .qdpx of findings needs a .qdpx PROJECT and --out FILE.qdpx", "--format", code="E131")
    check_output(out)
    report = audit(project, codebook, store_path, codings=codings, segment_options=segment_options,
                   options=options, metadata=metadata, embedder=embedder)
    if pseudonymiser is None:
        write_audit(report, out, fmt, project=project, codebook=codebook)
    elif fmt == "qdpx":
        from nlp_coder.privacy.pseudonymise import pseudonymised_project
        from nlp_coder.refi import build_qdpx, read_qdpx, write_atomic_bytes

        assert out is not None
        base = read_qdpx(project)
        docs, moved, _ = pseudonymised_project(base.documents, pseudonymiser,
                                               codings=(*base.codings, *audit_codings(report)))
        write_atomic_bytes(out, build_qdpx(documents=docs, codebook=pseudonymiser.walk(load_codebook(codebook)),
                                           codings=moved, name=pseudonymiser.text(base.name or "project")))
    else:
        write_audit(pseudonymiser.walk(report), out, fmt)
    return report
