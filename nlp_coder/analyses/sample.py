"""Draw fragments for a second coder: a simple random or a stratified random sample.

The sample is written without anyone's codes: as a CSV with empty ``code`` and ``coder``
columns (fill them in, one row per code, and give the file to ``nlp-coder agree``), or as a
``.qdpx`` holding the sampled documents and the codebook, with each sampled fragment marked by
an uncoded selection ("sample 3 of 40") for the second coder to code in their own tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.records import Fragment

if TYPE_CHECKING:
    from nlp_coder.privacy.pseudonymise import Pseudonymiser
    from nlp_coder.segment import SegmentOptions

MISSING = "(missing)"
SAMPLE_FORMATS = ("csv", "qdpx")
"""What a sample is written as: a CSV to fill in, or a REFI-QDA project to code in a QDA tool."""


@dataclass(frozen=True)
class Sample:
    """The sampled fragments in document order, with the stratum sizes drawn from."""

    fragments: tuple[Fragment, ...]
    strata: tuple[tuple[str, int, int], ...]  # (value, fragments in the corpus, fragments drawn)
    seed: int
    stratify_by: str | None = None


def draw_sample(fragments: Sequence[Fragment], n: int, *, seed: int, stratify_by: str | None = None) -> Sample:
    """Draw ``n`` fragments at random, or per stratum in proportion to its size.

    Proportional allocation uses the largest remainder, so the strata sizes add up to ``n``;
    a stratum never gets more fragments than it has. The same fragments and seed give the same
    sample.

    Raises:
        InputError: ``n`` is not between 1 and the number of fragments, or no fragment has the
            stratifying attribute.
    """
    if not 1 <= n <= len(fragments):
        raise InputError(f"cannot draw {n} of {len(fragments)} fragments", "--n",
                         f"Give a number from 1 to {len(fragments)}", code="E130")
    rng = np.random.default_rng(seed)
    if stratify_by is None:
        chosen = sorted(rng.choice(len(fragments), size=n, replace=False).tolist())
        return Sample(tuple(fragments[i] for i in chosen), (("(all)", len(fragments), n),), seed)
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(fragments):
        groups.setdefault(f.attributes.get(stratify_by, MISSING), []).append(i)
    if set(groups) == {MISSING}:
        known = sorted({k for f in fragments for k in f.attributes})
        raise InputError(f"no fragment has the attribute '{stratify_by}'", "--stratify-by",
                         f"Attributes in this corpus: {', '.join(known) or 'none (add a metadata.csv)'}", code="E130")
    names = sorted(groups)
    sizes = np.array([len(groups[g]) for g in names], dtype=float)
    quota = sizes * n / sizes.sum()
    counts = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - counts), kind="stable")[: n - counts.sum()]:
        counts[j] += 1
    chosen = []
    for name, count in zip(names, counts):
        members = groups[name]
        chosen.extend(members[k] for k in rng.choice(len(members), size=int(count), replace=False).tolist())
    chosen.sort()
    return Sample(tuple(fragments[i] for i in chosen),
                  tuple((name, len(groups[name]), int(c)) for name, c in zip(names, counts)), seed, stratify_by)


def sample_as_csv(sample: Sample) -> str:
    """The sample as a codings CSV to fill in: ``document,start,end,code,coder`` first."""
    from nlp_coder.export.tables import csv_text

    keys = sorted({k for f in sample.fragments for k in f.attributes})
    header = ["document", "start", "end", "code", "coder", "fragment_id", "speaker", "text", *keys]
    rows: list[list[object]] = [
        [f.document, f.start, f.end, "", "", f.id, f.speaker, f.text, *(f.attributes.get(k, "") for k in keys)]
        for f in sample.fragments
    ]
    return csv_text(header, rows)


@dataclass(frozen=True)
class WrittenSample:
    """A sample drawn from a corpus by :func:`write_sample`, and where it went."""

    sample: Sample
    fragments: int  # fragments in the corpus
    warnings: tuple[str, ...]
    out: Path
    fmt: str


def write_sample(corpus: str | Path, out: str | Path, *, n: int, seed: int, stratify_by: str | None = None,
                 codebook: str | Path | None = None, fmt: str | None = None,
                 segment_options: SegmentOptions | None = None, metadata: str | Path | None = None,
                 pseudonymiser: Pseudonymiser | None = None) -> WrittenSample:
    """Cut ``corpus`` into fragments, draw a sample (:func:`draw_sample`) and write it to ``out``.

    Args:
        corpus: a transcript, a folder, a fragment table or a ``.qdpx`` project.
        out: the sample file: ``.csv`` (:func:`sample_as_csv`) or ``.qdpx`` (the sampled documents,
            the codebook, and one selection without code per sampled fragment).
        n, seed, stratify_by: as for :func:`draw_sample`.
        codebook: the codebook put in a ``.qdpx`` sample (default: the project's own when
            ``corpus`` is a ``.qdpx``).
        fmt: one of :data:`SAMPLE_FORMATS` (default: from ``out``'s suffix).
        segment_options: how the corpus is cut (as for ``segment``).
        metadata: a CSV of per-document attributes.
        pseudonymiser: replace names in the sample (``--pseudonymise``; scanned here): a ``.csv``
            keeps the original offsets, a ``.qdpx`` gets the pseudonymised text with its
            selections moved onto it.

    Raises:
        InputError: the format is not known, the corpus or codebook cannot be read, ``n`` is out
            of range, or no fragment has the stratifying attribute.
        OutputError: ``out`` cannot be written (checked before any work).
    """
    from nlp_coder.export.formats import check_output, format_for
    from nlp_coder.run import read_and_segment
    from nlp_coder.segment import SegmentOptions

    out = Path(out)
    fmt = format_for(out, fmt, None, formats=SAMPLE_FORMATS, what="a sample")
    if fmt not in SAMPLE_FORMATS:
        raise InputError(f"unknown sample format '{fmt}'", "--format", "Use csv or qdpx", code="E130")
    check_output(out)
    seg = read_and_segment(corpus, segment_options or SegmentOptions(), metadata)
    drawn = draw_sample(seg.fragments, n, seed=seed, stratify_by=stratify_by)
    if pseudonymiser is not None:
        pseudonymiser.scan(seg.documents, interviewer_labels=(segment_options or SegmentOptions()).interviewer_labels)
    if fmt == "csv":
        from nlp_coder.export.tables import write_atomic

        write_atomic(out, sample_as_csv(pseudonymiser.walk(drawn) if pseudonymiser is not None else drawn))
    else:
        from nlp_coder.codebook import load_codebook
        from nlp_coder.refi import Marker, build_qdpx, read_qdpx, write_atomic_bytes

        if codebook is not None:
            book = load_codebook(codebook)
        else:  # the project's own codebook, if it has one
            book = read_qdpx(corpus).codebook if Path(corpus).suffix.casefold() == ".qdpx" else None
        used = {f.document for f in drawn.fragments}
        markers = [Marker(f.document, f.start, f.end, f"sample {i} of {len(drawn.fragments)} ({f.id})")
                   for i, f in enumerate(drawn.fragments, start=1)]
        documents = tuple(d for d in seg.documents if d.id in used)
        name = f"sample of {Path(corpus).stem}"
        if pseudonymiser is not None:
            from nlp_coder.privacy.pseudonymise import pseudonymised_project

            documents, _, moved = pseudonymised_project(documents, pseudonymiser, markers=markers)
            markers, book, name = list(moved), pseudonymiser.walk(book), pseudonymiser.text(name)
        data = build_qdpx(documents=documents, codebook=book, markers=markers, name=name)
        write_atomic_bytes(out, data)
    return WrittenSample(drawn, len(seg.fragments), tuple(seg.warnings), out, fmt)
