"""Export a review: the reviewer's codings, the machine's remaining suggestions, and the
machine's flags, as a codings CSV or a REFI-QDA project (``.qdpx``).

* every fragment the reviewer decided: one coding per code they gave, under the reviewer's own
  user (a fragment decided as "no code fits" has no coding);
* every fragment still pending: the machine's codes under the user ``nlp-coder``;
* pending fragments the machine flagged: the code ``nlp-coder-uncoded`` (no code fits) or
  ``nlp-coder-overlap`` (several codes fit), also under ``nlp-coder``, so the review can go on in
  NVivo, ATLAS.ti, MAXQDA or QualCoder with a filter on them.

A ``.qdpx`` also marks each reviewed passage (a selection of ``nlp-coder`` without a code):
``nlp-coder agree`` then limits a comparison with it to the reviewed fragments, e.g. the
machine's suggestions (a ``suggest`` JSONL) against the reviewer, or two reviewers' exports.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from nlp_coder.errors import InputError
from nlp_coder.records import Code, Codebook, Document
from nlp_coder.refi.model import MACHINE_USER, Coding
from nlp_coder.review.session import ReviewSession

if TYPE_CHECKING:
    from nlp_coder.privacy.pseudonymise import Pseudonymiser

FLAG_CODES = {
    "uncoded": Code("nlp-coder-uncoded", "nlp-coder: uncoded",
                    "Flag: no code of the codebook fits this fragment well enough (not yet reviewed)."),
    "overlap": Code("nlp-coder-overlap", "nlp-coder: overlap",
                    "Flag: several codes fit this fragment about equally (not yet reviewed)."),
}
"""The codes the machine's flags are exported as."""

EXPORT_SUFFIXES = (".csv", ".qdpx")


def review_codings(session: ReviewSession) -> tuple[Coding, ...]:
    """The review as codings (see the module docstring), in corpus order."""
    out: list[Coding] = []
    reviewer = session.options.reviewer
    decided = {(r.document, r.fragment_id): r for r in session.decisions()}
    for i, f in enumerate(session.fragments):
        row = decided.get((f.document, f.id))
        if row is not None:
            note = f"review: {row.action} ({row.decided_at})"
            out.extend(Coding(f.document, row.start, row.end, code, reviewer, note) for code in row.codes)
            continue
        status = session.machine.picks[i][0][0]
        out.extend(Coding(f.document, f.start, f.end, code, MACHINE_USER, "suggestion, not reviewed")
                   for code in session.machine_codes[i])
        if status in FLAG_CODES:
            out.append(Coding(f.document, f.start, f.end, FLAG_CODES[status].id, MACHINE_USER,
                              f"status: {status} (not reviewed)"))
    return tuple(out)


def check_export(path: str | Path) -> str:
    """The export's suffix (``.csv`` or ``.qdpx``), checked before any work is done, with its
    folder writable; nothing is created.

    Raises:
        InputError: ``E104`` another suffix.
        OutputError: ``E400`` the file cannot be written.
    """
    from nlp_coder.export.tables import check_writable

    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix not in EXPORT_SUFFIXES:
        raise InputError(f"cannot export a review as {path.suffix or 'a file without suffix'}", str(path),
                         "Give a .csv or .qdpx file", code="E104")
    check_writable(path)
    return suffix


def export_review(session: ReviewSession, path: str | Path, *, pseudonymiser: Pseudonymiser | None = None) -> int:
    """Write the review to ``path``: a codings CSV (``document,start,end,code,coder``) or a
    ``.qdpx`` project, by suffix; written whole or not at all. Returns the codings written.

    With ``pseudonymiser`` (``--pseudonymise``), a ``.qdpx`` holds the pseudonymised documents,
    its codings and marks moved onto their text
    (:func:`~nlp_coder.privacy.pseudonymise.pseudonymised_project`); a CSV holds no text (only its
    document names are pseudonymised), and its offsets point into the original documents, as every
    output's do.

    Raises:
        InputError: ``E104`` another suffix.
        OutputError: ``E400`` the file cannot be written.
    """
    path = Path(path)
    suffix = check_export(path)
    codings = review_codings(session)
    if suffix == ".csv":
        from nlp_coder.export.tables import csv_text, write_atomic
        from nlp_coder.refi.codings import CSV_COLUMNS

        if pseudonymiser is not None:  # no text, but a document may be named after someone
            pseudonymiser.scan(list(session.documents.values()))
        rows: list[list[object]] = [
            [pseudonymiser.text(c.document) if pseudonymiser is not None else c.document, c.start, c.end, c.code,
             c.coder] for c in codings]
        write_atomic(path, csv_text(list(CSV_COLUMNS), rows))
    else:
        from nlp_coder.refi.write import Marker, build_qdpx, write_atomic_bytes

        reviewer = session.options.reviewer
        markers = [Marker(r.document, r.start, r.end, f"reviewed by {reviewer}: {r.action}")
                   for r in session.decisions()]
        documents: list[Document] | tuple[Document, ...] = list(session.documents.values())
        codebook, name = flagged_codebook(session.codebook), session.codebook.name or "nlp-coder review"
        if pseudonymiser is not None:
            from nlp_coder.privacy.pseudonymise import pseudonymised_project

            pseudonymiser.scan(list(documents))
            documents, moved, moved_markers = pseudonymised_project(documents, pseudonymiser, codings=codings,
                                                                    markers=markers)
            codings, markers = tuple(moved), list(moved_markers)
            codebook, name = pseudonymiser.walk(codebook), pseudonymiser.text(name)  # exemplars quote interviews
        data = build_qdpx(documents=list(documents), codebook=codebook, codings=codings, markers=markers, name=name)
        write_atomic_bytes(path, data)
    return len(codings)


def flagged_codebook(codebook: Codebook) -> Codebook:
    """The codebook with the flag codes added (those it lacks)."""
    have = {c.id for c in codebook.codes}
    return replace(codebook, codes=codebook.codes + tuple(c for c in FLAG_CODES.values() if c.id not in have))
