"""The labelled passages a codebook (and, optionally, pilot coding) gives to learn from.

* Each codable main code's exemplars are passages labelled with the code. An exemplar quoted
  from the corpus (found word for word, ignoring case and spacing, in exactly one document of
  the corpus: :func:`locate_exemplars`) is in the group of that document, as a pilot passage of
  it is, so cross-validation holds out its document with it. The rest (found in no document, or
  in several) come from no known document: they are dealt into ``codebook-1`` ... ``codebook-F`` groups
  round-robin, code by code in the codebook's order (``F`` is the smallest number of such
  exemplars of a code, at most :data:`CODEBOOK_GROUPS`): every group holds at least one of them
  for every code, and grouped cross-validation holds out about ``1/F`` of each code's exemplars
  at a time. Held-out exemplars from the same few documents as the training ones flatter the
  methods that learn those documents' wording, so :mod:`nlp_coder.learn.choose` asks more of a
  learned method when most passages are in these groups (:attr:`LabelledSet.mostly_ungrouped`).
* Counterexamples are kept apart as negatives: fine-tuning pushes them away from every code's
  passages; the classifiers do not use them (they are no code of their own).
* Pilot coding (a ``.qdpx`` project or a codings CSV, read by :mod:`nlp_coder.match.train`):
  the pilot documents are cut into fragments as the corpus is; a fragment covered (half or more)
  by exactly one main code is a passage of that code, in the group of its document, so no
  document is ever both trained on and tested on. A fragment no coding touches is text no code
  fits (see :attr:`LabelledSet.unlabelled`). Fragments with several main codes, and fragments a
  coding touches without one main code covering half of them (facet codes only, or too little
  of the fragment), are left out and counted in a warning (the method choice scores the top-1
  code).
* Review decisions (``nlp-coder review``, read from the project store by reviewer): a fragment
  the reviewer accepted or recoded with exactly one main code is a passage of that code, in the
  group of its document; a fragment they rejected (no code fits) is text no code fits, as an
  untouched pilot fragment is. Only decisions on documents of the corpus whose text still holds
  the decided span are used; the rest are counted in a warning.

Facet codes are not learned in this step: only the main codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_coder.records import Codebook, Document

CODEBOOK_GROUPS = 5
"""At most this many groups for the codebook's exemplars."""
CODEBOOK_GROUP = "codebook-"
"""The prefix of the codebook exemplars' groups."""


@dataclass(frozen=True)
class Passage:
    """A labelled text: its code, its group for cross-validation and where it came from
    (``codebook`` or the pilot file's path)."""

    text: str
    code: str
    group: str
    source: str


@dataclass(frozen=True)
class LabelledSet:
    """What there is to learn from: the passages, the codes they use (codebook order), the
    counterexamples (text, the code it is not) and what was left out, as warnings."""

    passages: tuple[Passage, ...]
    codes: tuple[str, ...]
    negatives: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()
    unlabelled: tuple[Passage, ...] = ()
    """Pilot fragments no coding touches (code ``""``, grouped by document): text that no code
    fits. Never trained on; the calibration (:mod:`nlp_coder.learn.calibrate`) counts a code
    suggested for one as a false positive."""

    def sha256(self) -> str:
        """The hash of everything learned from: the codes, the passages (text, code, group), the
        unlabelled passages and the counterexamples, in order."""
        import hashlib
        import json

        data = {"codes": list(self.codes), "passages": [[p.text, p.code, p.group] for p in self.passages],
                "unlabelled": [[p.text, p.group] for p in self.unlabelled],
                "negatives": [list(n) for n in self.negatives]}
        return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    @property
    def exemplars_located(self) -> tuple[int, int]:
        """How many of the codebook's exemplars were found in one document of the corpus (and are
        grouped by it), and how many there are."""
        own = [p for p in self.passages if p.source == "codebook"]
        return sum(not p.group.startswith(CODEBOOK_GROUP) for p in own), len(own)

    @property
    def mostly_ungrouped(self) -> bool:
        """Whether most passages come from no known document (exemplars found in no document of
        the corpus, or in several): the cross-validation then cannot hold out their documents."""
        return 2 * sum(p.group.startswith(CODEBOOK_GROUP) for p in self.passages) > len(self.passages)

    @property
    def groups(self) -> tuple[str, ...]:
        """The distinct groups, sorted."""
        return tuple(sorted({p.group for p in self.passages}))

    def counts(self) -> dict[str, int]:
        """Passages per code, in codebook order."""
        out = {c: 0 for c in self.codes}
        for p in self.passages:
            out[p.code] += 1
        return out


def learnable_codes(codebook: Codebook) -> tuple[str, ...]:
    """The codable main codes (no facet), in codebook order."""
    return tuple(c.id for c in codebook.codes if c.codable and c.facet is None)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _fold(text: str) -> str:
    return _clean(text).casefold()


def locate_exemplars(texts: Sequence[str], corpus: Sequence[Document]) -> dict[str, str]:
    """The document each text is quoted from: the one document of ``corpus`` whose text holds it
    word for word, ignoring case and spacing. Texts found in no document, or in several (a short
    "Yeah." is in most transcripts: its own document is not known), are left out."""
    wanted = {t: folded for t in dict.fromkeys(texts) if (folded := _fold(t))}
    found: dict[str, str] = {}
    several: set[str] = set()
    for document in corpus:
        haystack = _fold(document.text)
        for text, needle in wanted.items():
            if text not in several and needle in haystack:
                if text in found:
                    several.add(text)
                    del found[text]
                else:
                    found[text] = document.id
    return found


def codebook_passages(codebook: Codebook, corpus: Sequence[Document] = (),
                      ) -> tuple[tuple[Passage, ...], tuple[tuple[str, str], ...]]:
    """The exemplars of the codable main codes as passages (groups as in the module doc: by the
    document of ``corpus`` they are quoted from, else round-robin), and their counterexamples."""
    codes = [codebook.code(c) for c in learnable_codes(codebook)]
    examples = {c.id: list(dict.fromkeys(t for t in map(_clean, c.examples) if t)) for c in codes}
    located = locate_exemplars([t for v in examples.values() for t in v], corpus) if corpus else {}
    present = [n for n in (sum(t not in located for t in v) for v in examples.values()) if n]
    folds = max(1, min(CODEBOOK_GROUPS, min(present, default=1)))
    passages = []
    for code in codes:
        dealt = 0
        for text in examples[code.id]:
            if text in located:
                group = located[text]
            else:
                group = f"{CODEBOOK_GROUP}{dealt % folds + 1}"
                dealt += 1
            passages.append(Passage(text, code.id, group, "codebook"))
    negatives = tuple((t, c.id) for c in codes for t in dict.fromkeys(map(_clean, c.counterexamples)) if t)
    return tuple(passages), negatives


def pilot_passages(path: str | Path, codebook: Codebook, corpus: Sequence[Document],
                   segment_options: object = None) -> tuple[tuple[Passage, ...], tuple[str, ...]]:
    """The fragments of pilot coding with exactly one main code, grouped by document."""
    passages, _, warnings = pilot_split(path, codebook, corpus, segment_options)
    return passages, warnings


def pilot_split(path: str | Path, codebook: Codebook, corpus: Sequence[Document], segment_options: object = None,
                ) -> tuple[tuple[Passage, ...], tuple[Passage, ...], tuple[str, ...]]:
    """The fragments of pilot coding with exactly one main code, those no coding touches (code
    ``""``), both grouped by document, and warnings.

    Raises:
        InputError: as :func:`nlp_coder.match.train.read_pilot` (``E101``, ``E104``, ``E120``),
            ``E120`` for codes the codebook lacks, ``E106`` when no fragment is left.
    """
    from nlp_coder.errors import InputError
    from nlp_coder.match.train import _touched, check_codes, label_fragments, read_pilot
    from nlp_coder.segment import segment

    documents, coded = read_pilot(path, corpus)
    check_codes(codebook, coded, str(path))
    fragments = segment(documents, segment_options)  # type: ignore[arg-type]
    if not fragments:
        raise InputError("no fragments in the pilot documents", str(path), "Check the speaker options", code="E106")
    main = set(learnable_codes(codebook))
    passages, untouched, several, partial = [], [], 0, 0
    for fragment, labels, touched in zip(fragments, label_fragments(fragments, coded), _touched(fragments, coded)):
        own = sorted(labels & main)
        if len(own) == 1:
            passages.append(Passage(_clean(fragment.text), own[0], fragment.document, str(path)))
        elif len(own) > 1:
            several += 1
        elif not touched:
            if _clean(fragment.text):
                untouched.append(Passage(_clean(fragment.text), "", fragment.document, str(path)))
        else:
            partial += 1
    warnings = [f"{path}: {several} fragments with more than one code left out"] if several else []
    if partial:
        warnings.append(f"{path}: {partial} fragments that codings touch without one main code covering half of "
                        "them (facet codes only, or too little of the fragment) left out")
    if not passages:
        raise InputError("no pilot coding covers half a fragment with one main code", str(path),
                         "Check that the codings and the transcripts are the same text", code="E120")
    return tuple(passages), tuple(untouched), tuple(warnings)


def review_split(decisions: Sequence[Any], codebook: Codebook, corpus: Sequence[Document], reviewer: str,
                 ) -> tuple[tuple[Passage, ...], tuple[Passage, ...], tuple[str, ...]]:
    """The review decisions (:class:`nlp_coder.store.ReviewRow`, the ones in force) with exactly
    one main code as passages, the rejected ones as text no code fits (code ``""``), both grouped
    by document (source ``review:<reviewer>``), and warnings."""
    main = set(learnable_codes(codebook))
    documents = {d.id: d for d in corpus}
    source = f"review:{reviewer}"
    passages, rejected, several, missing, facets = [], [], 0, 0, 0
    for row in decisions:
        doc = documents.get(row.document)
        text = _clean(doc.text[row.start:row.end]) if doc is not None and 0 <= row.start < row.end <= len(doc.text) \
            else ""
        if not text:
            missing += 1
            continue
        own = sorted(set(row.codes) & main)
        if len(own) == 1:
            passages.append(Passage(text, own[0], row.document, source))
        elif len(own) > 1:
            several += 1
        elif not row.codes:
            rejected.append(Passage(text, "", row.document, source))
        else:
            facets += 1
    warnings = []
    if several:
        warnings.append(f"{source}: {several} decisions with more than one code left out")
    if facets:
        warnings.append(f"{source}: {facets} decisions with facet codes only left out (only main codes are learned)")
    if missing:
        warnings.append(f"{source}: {missing} decisions on documents this corpus does not have (or whose text "
                        "changed) left out")
    return tuple(passages), tuple(rejected), tuple(warnings)


def labelled_set(codebook: Codebook, *, codings: str | Path | None = None, corpus: Sequence[Document] = (),
                 segment_options: object = None, review: Sequence[Any] = (),
                 reviewer: str | None = None) -> LabelledSet:
    """The codebook's passages, plus those of the pilot coding in ``codings`` and of the review
    decisions ``review`` (``reviewer``'s, from the store) when given."""
    passages, negatives = codebook_passages(codebook, corpus)
    warnings: tuple[str, ...] = ()
    untouched: tuple[Passage, ...] = ()
    if codings is not None:
        pilot, untouched, warnings = pilot_split(codings, codebook, corpus, segment_options)
        passages = passages + pilot
    if reviewer is not None:
        reviewed, rejected, said = review_split(review, codebook, corpus, reviewer)
        passages, untouched, warnings = passages + reviewed, untouched + rejected, warnings + said
    used = {p.code for p in passages}
    codes = tuple(c for c in learnable_codes(codebook) if c in used)
    missing = [c for c in learnable_codes(codebook) if c not in used]
    if missing:
        warnings = (*warnings, f"{len(missing)} codes have no exemplar or coded passage and are not learned: "
                    f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return LabelledSet(passages, codes, negatives, warnings, untouched)
