"""Fragments that fit speech, and a threshold that fits the codebook.

    .venv/bin/python -m benchmarks.reading                 # both parts
    .venv/bin/python -m benchmarks.reading --fragments     # only the fragment counts

Fragments: how many fragments the bundled example (``corpus/``) and the AnnoMI transcripts
(rebuilt as text, :func:`benchmarks.realdata.rebuild_annomi_transcripts`) give with the reading
before fillers, joining and windows (``fillers='none', join=False, max_words=0``: every word counts, nothing joined,
nothing cut) and with the defaults, and how many sentences were filler-only, merged, joined,
skipped or cut (:class:`nlp_coder.segment.SegmentStats`).

Threshold: on AnnoMI (therapist behaviour, client talk type) and the Manifesto set, the uncoded
share and uncoded-detection precision/recall (against fragments the humans left uncoded or coded
NA/000: :func:`nlp_coder.analyses.evaluate.evaluate_gold`, ``centroid-def``, K=8 exemplars per code
from training documents) at the registry's default threshold and at the threshold
``--threshold auto`` recommends (:func:`nlp_coder.analyses.sensitivity.recommend_threshold`) for the
codebook with K exemplars per code drawn from the gold with the same seed.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.evaluate import cached_encoder, datasets, load_book
from benchmarks.realdata import SHARED, rebuild_annomi_transcripts
from nlp_coder.analyses.evaluate import EvaluateOptions, evaluate_gold
from nlp_coder.analyses.sensitivity import recommend_threshold
from nlp_coder.match.matcher import codebook_texts
from nlp_coder.match.settings import resolve_settings
from nlp_coder.readers import read_corpus_report
from nlp_coder.segment import SegmentOptions, SegmentStats, cut_documents, load_pipeline

BEFORE = SegmentOptions(fillers="none", join=False, max_words=0)
AFTER = SegmentOptions()
K = 8


def fragment_counts(folder: Path, options: SegmentOptions) -> tuple[int, SegmentStats]:
    documents = read_corpus_report(folder).documents
    nlp = load_pipeline(options.pipeline)
    cut = cut_documents(documents, options, nlp)
    total = SegmentStats()
    for _, stats in cut:
        total += stats
    return sum(len(f) for f, _ in cut), total


def fragments_section() -> list[str]:
    lines = ["| corpus | reading | fragments | sentences | filler-only | merged | joined | skipped | cut |",
             "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        annomi = Path(tmp) / "annomi"
        rebuild_annomi_transcripts(annomi)
        for name, folder in (("bundled example", Path("corpus")), ("AnnoMI (all, client turns)", annomi)):
            for label, options in (("before", BEFORE), ("after", AFTER),
                                   ("after, --unit turn", replace(AFTER, unit="turn"))):
                n, s = fragment_counts(folder, options)
                lines.append(f"| {name} | {label} | {n} | {s.sentences} | {s.filler_only} | {s.merged} | {s.joined} "
                             f"| {s.skipped} | {s.cut} |")
                print(lines[-1], flush=True)
    return lines


def threshold_section(store: Path) -> list[str]:
    encode, model_id = cached_encoder(store)
    lines = ["| data set | threshold | value | uncoded share | uncoded precision | uncoded recall | macro F1 |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for data in datasets():
            book = load_book(data, Path(tmp))
            default = resolve_settings(book).threshold
            rng = random.Random(0)
            drawn = {}
            for code in book.codes:
                texts = [g.text for g in data.gold if code.id in g.codes]
                drawn[code.id] = tuple(rng.sample(texts, min(K, len(texts))))
            fitted = replace(book, codes=tuple(replace(c, examples=drawn[c.id]) for c in book.codes))
            texts = codebook_texts(fitted)
            lookup = dict(zip(texts, encode(texts)))
            advice = recommend_threshold(fitted, lookup, resolve_settings(fitted))
            assert advice is not None
            for label, value in (("registry default", default), ("auto", advice.threshold)):
                options = EvaluateOptions(methods=("centroid-def",), exemplars_from_gold=K, seed=0, repeat=1,
                                          threshold=value)
                report = evaluate_gold(data.gold, book, encode, options, model_id=model_id, source=data.name)
                m = report.methods[0]
                coverage = m.get("coverage")
                lines.append(f"| {data.name} | {label} | {value:g} | {_f(None if coverage is None else 1 - coverage)} "
                             f"| {_f(m.get('uncoded_precision'))} | {_f(m.get('uncoded_recall'))} | "
                             f"{_f(m.get('decision_macro_f1'))} |")
                print(lines[-1], flush=True)
    return lines


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", action="store_true", help="Only the fragment counts.")
    parser.add_argument("--store", type=Path, default=Path("out/eval-cache.db"), help="Vector cache.")
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"the real data is not in {SHARED}")
    fragments_section()
    if not args.fragments:
        threshold_section(args.store)


if __name__ == "__main__":
    main()
