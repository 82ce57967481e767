"""Which default unit agrees best with the human coding: ``sentence``, ``turn`` or ``window``.

    .venv/bin/python -m benchmarks.units                      # 10 AnnoMI + 2 Manifesto test documents
    .venv/bin/python -m benchmarks.units --annomi 5 --manifesto 1 --thresholds default   # a quick look

Each unit's fragments differ, so they are compared with the human coding where fragments do not
matter: on characters. The human coding is the data set's own (AnnoMI: each therapist
utterance's behaviour; Manifesto: each quasi-sentence's category, none for NA/000), laid on the
text the tool reads:

* AnnoMI transcripts rebuilt as ``[time] therapist: ...`` text
  (:func:`benchmarks.realdata.rebuild_annomi_transcripts`), therapist speech coded
  (``speakers=('therapist',)``), the therapist behaviour codebook of ``benchmarks.evaluate``;
* Manifestos written as running text: the quasi-sentences of a paragraph joined by a space, a
  new paragraph at each heading (a quasi-sentence coded NA that ends without punctuation), the
  Manifesto codebook of ``benchmarks.evaluate`` (codes with 60+ quasi-sentences).

Exemplars: K=8 per code drawn from the training documents of
:func:`nlp_coder.analyses.evaluate.draw_split` (seed 0, the split ``evaluate`` uses); the test
documents coded are a seeded sample of the others (one seed). Each unit is run with
:func:`nlp_coder.run.suggest` (default model and method; the unit's other options at their
defaults), at the default threshold and at ``--threshold auto`` (the threshold fitted to the
codebook's exemplars; the vectors are cached, so it embeds nothing more), and compared with
the human coding on the characters of the passages the humans coded (the utterances and
quasi-sentences of the data set; quasi-sentences of rarer categories are left out): Cohen's κ
and percent agreement over characters, a character's category being its set of codes
(:func:`nlp_coder.analyses.agree.agreement`, ``level='character'``, as
``nlp-coder agree --level character``); coverage, the share of human-coded characters the
machine codes; and fragments per document.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.evaluate import Dataset, annomi_dataset, load_book, manifesto_dataset
from benchmarks.realdata import SHARED, annomi_utterances, manifesto_sentences
from nlp_coder.analyses.agree import Rater, agreement
from nlp_coder.analyses.evaluate import draw_split, evaluated_codes
from nlp_coder.records import Codebook
from nlp_coder.refi.codings import Unit
from nlp_coder.refi.model import Coding
from nlp_coder.segment import SegmentOptions

K = 8
SEED = 0
UNITS = ("sentence", "turn", "window")
END_PUNCTUATION = tuple(".!?;:,…\"')”’")


@dataclass(frozen=True)
class Case:
    """One data set written as text: the folder, the codebook with exemplars, the human coding."""

    name: str
    folder: Path
    book: Codebook
    human: tuple[Coding, ...]
    scope: tuple[Unit, ...]
    lengths: dict[str, int]
    segment: SegmentOptions
    note: str


@dataclass(frozen=True)
class UnitResult:
    data: str
    unit: str
    threshold: str
    documents: int
    fragments: int
    kappa: float | None
    percent: float | None
    coverage: float


def fitted_book(data: Dataset, folder: Path, seed: int = SEED) -> tuple[Codebook, tuple[str, ...], list[str]]:
    """The data set's codebook with K exemplars per code from the training documents.

    Returns:
        The codebook, the test documents and warnings (codes short of K exemplars).
    """
    book = load_book(data, folder)
    codes = evaluated_codes(book, data.gold)
    split, warnings = draw_split(data.gold, codes, K, seed)
    by_id = {g.id: g for g in data.gold}
    drawn = dict(split.exemplars)
    fitted = replace(book, codes=tuple(replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ())))
                                       for c in book.codes))
    return fitted, split.test_documents, list(warnings)


def sample(documents: Sequence[str], n: int, seed: int = SEED) -> list[str]:
    """A seeded sample of ``n`` documents (all when ``n`` is 0 or more than there are)."""
    documents = sorted(documents)
    if n <= 0 or n >= len(documents):
        return documents
    return sorted(random.Random(seed).sample(documents, n))


def annomi_case(folder: Path, n: int, seed: int = SEED) -> Case:
    data = annomi_dataset("therapist")
    book, test, _ = fitted_book(data, folder, seed)
    chosen = set(sample(test, n, seed))
    out = folder / "annomi"
    out.mkdir()
    human: list[Coding] = []
    scope: list[Unit] = []
    lengths: dict[str, int] = {}
    by_transcript: dict[str, list] = {}
    for u in annomi_utterances():
        if u.transcript in chosen:
            by_transcript.setdefault(u.transcript, []).append(u)
    for transcript, items in sorted(by_transcript.items()):
        name = f"annomi-{int(transcript):03d}.txt"
        text = ""
        for u in items:  # the lines benchmarks.realdata.rebuild_annomi_transcripts writes
            prefix = f"[{u.timestamp}] {u.speaker}: "
            speech = " ".join(u.text.split())
            start = len(text) + len(prefix)
            text += prefix + speech + "\n"
            code = u.therapist_behaviour
            if u.speaker == "therapist" and speech and code not in {"", "n/a"}:
                human.append(Coding(name, start, start + len(speech), code, "human"))
                scope.append(Unit(name, start, start + len(speech)))
        (out / name).write_text(text, encoding="utf-8")
        lengths[name] = len(text)
    note = f"AnnoMI therapist behaviour: {len(lengths)} of {len(test)} test transcripts (seed {seed})"
    return Case("AnnoMI therapist behaviour", out, book, tuple(human), tuple(scope), lengths,
                SegmentOptions(speakers=("therapist",)), note)


def manifesto_case(folder: Path, n: int, seed: int = SEED) -> Case:
    data = manifesto_dataset()
    book, test, _ = fitted_book(data, folder, seed)
    chosen = set(sample(test, n, seed))
    gold = {g.id: g for g in data.gold}
    out = folder / "manifesto"
    out.mkdir()
    human: list[Coding] = []
    scope: list[Unit] = []
    lengths: dict[str, int] = {}
    by_doc: dict[str, list] = {}
    for s in manifesto_sentences():
        if s.document in chosen and s.text:
            by_doc.setdefault(s.document, []).append(s)
    for doc, items in sorted(by_doc.items()):
        name = f"{doc}.txt"
        text = ""
        for s in items:
            heading = s.code == "NA" and not s.text.endswith(END_PUNCTUATION)
            if text:
                text += "\n\n" if heading or text.endswith("\n") else " "
            start = len(text)
            text += s.text
            if heading:
                text += "\n"
            g = gold.get(f"{s.document}.{s.index}")
            if g is not None:  # quasi-sentences of rarer categories are not compared
                scope.append(Unit(name, start, start + len(s.text)))
                human.extend(Coding(name, start, start + len(s.text), code, "human") for code in g.codes)
        text = text.rstrip("\n") + "\n"
        (out / name).write_text(text, encoding="utf-8")
        lengths[name] = len(text)
    note = f"Manifesto UK: {len(lengths)} of {len(test)} test manifestos (seed {seed})"
    return Case("Manifesto UK", out, book, tuple(human), tuple(scope), lengths, SegmentOptions(), note)


def coverage(human: Sequence[Coding], machine: Sequence[Coding]) -> float:
    """Share of the characters the humans coded that the machine codes (with any code)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for c in machine:
        spans.setdefault(c.document, []).append((c.start, c.end))
    merged: dict[str, list[tuple[int, int]]] = {}
    for doc, items in spans.items():
        out: list[tuple[int, int]] = []
        for start, end in sorted(items):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[doc] = out
    coded = {(c.document, c.start, c.end) for c in human}
    total = sum(end - start for _, start, end in coded)
    hit = sum(max(0, min(end, e) - max(start, s)) for doc, start, end in coded for s, e in merged.get(doc, ()))
    return hit / total if total else 0.0


def run_unit(case: Case, unit: str, store: Path, threshold: str = "default") -> UnitResult:
    """Code the case's documents in ``unit`` at the ``default`` threshold or ``auto``; compare."""
    from nlp_coder.run import SuggestOptions, suggest

    options = SuggestOptions(threshold=None if threshold == "default" else threshold)
    result = suggest(case.folder, case.book, store, segment_options=replace(case.segment, unit=unit), options=options)
    machine = []
    for r in result.results:
        f = r.fragment
        assert f.document in case.lengths, f"unexpected document name {f.document}"
        machine.extend(Coding(f.document, f.start, f.end, code, "machine") for code in r.decision.codes)
    report = agreement([Rater("human", case.human), Rater("machine", tuple(machine))], documents=list(case.lengths),
                       lengths=case.lengths, scope=case.scope, levels=("character",))
    row = report.row("character")
    return UnitResult(case.name, unit, threshold, len(case.lengths), len(result.results), row.kappa, row.percent,
                      coverage(case.human, machine))


def table(results: Sequence[UnitResult]) -> list[str]:
    lines = ["| data set | threshold | unit | fragments per document | character κ | character agreement | coverage |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        kappa = "n/a" if r.kappa is None else f"{r.kappa:.3f}"
        percent = "n/a" if r.percent is None else f"{100 * r.percent:.1f} %"
        lines.append(f"| {r.data} | {r.threshold} | `{r.unit}` | {r.fragments / r.documents:.1f} | {kappa} | {percent} "
                     f"| {100 * r.coverage:.1f} % |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", type=int, default=10, help="AnnoMI test transcripts coded (0: all).")
    parser.add_argument("--manifesto", type=int, default=2, help="Test manifestos coded (0: all).")
    parser.add_argument("--units", nargs="+", default=list(UNITS), choices=UNITS)
    parser.add_argument("--thresholds", nargs="+", default=["default", "auto"], choices=("default", "auto"))
    args = parser.parse_args(argv)
    if not SHARED.exists():
        raise SystemExit(f"the real data is not in {SHARED}")
    results: list[UnitResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / "store.db"
        cases = [annomi_case(folder, args.annomi), manifesto_case(folder, args.manifesto)]
        for case in cases:
            print(case.note, flush=True)
        print(f"K={K} exemplars per code from the training documents, one seed ({SEED}), default model", flush=True)
        for case in cases:
            for threshold in args.thresholds:
                for unit in args.units:
                    results.append(run_unit(case, unit, store, threshold))
                    print(table(results[-1:])[-1], flush=True)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
