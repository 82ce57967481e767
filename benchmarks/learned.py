"""The learned model of ``suggest --learn``: its encoding speed against the base model's, and the
share of fragments left uncoded before and after the per-code calibration.

    .venv/bin/python -m benchmarks.learned speed              # fragments/s: learned encoders vs base
    .venv/bin/python -m benchmarks.learned uncoded            # bundled example and AnnoMI, before/after
    .venv/bin/python -m benchmarks.learned uncoded --fine-tune  # the fine-tuned method compared too (slow)

``speed`` fine-tunes the default model on the bundled codebook's exemplars (the learner's
settings, ``--steps`` of them), exports it as ``suggest --learn`` does
(:func:`nlp_coder.learn.artefact.export_encoder`, ONNX Runtime on the CPU) and encodes the
bundled example's fragments with it and with the base model (the default model's own ONNX
export) in turn, ``--runs`` times each; it prints each one's median fragments/s and their
ratio, the tuned model on torch for comparison, and the ``minilm-use`` ensemble that the
``ensemble-*`` methods encode with.

``uncoded`` codes, with the default settings and with the learned model
(:func:`nlp_coder.learn.artefact.learn_model`: the method chosen by grouped cross-validation,
thresholds calibrated for ``--target-precision``):

* the bundled example (``corpus/``, ``codebooks/working-alliance.yaml``; the codebook's 5
  exemplars per code are all the labels);
* AnnoMI therapist behaviour with K = 16 exemplars per code drawn from training transcripts
  (:func:`nlp_coder.analyses.evaluate.draw_split`, seed 0), tested on every single-coded
  utterance of the other transcripts (at most ``--max-test``, a seeded sample); the exemplars
  found in no document (``codebook-*`` groups) and found in the training transcripts (grouped by
  the transcript they came from, as ``suggest --learn`` finds them in its corpus);
* with ``--manifesto``, Manifesto UK the same way (sentences coded NA/000 are in the test and
  count against the precision when coded).

For each it prints the share of fragments coded, overlap and uncoded and, where there are gold
codes, the precision of the ``coded`` fragments' code. Without ``--fine-tune`` the fine-tuned
method is left out of the comparison (six fine-tunings take many minutes on 2 cores). Frozen
vectors are cached in ``out/eval-cache.db``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "out" / "eval-cache.db"


def speed(steps: int = 20, runs: int = 3) -> dict[str, float]:
    from nlp_coder.codebook import load_codebook
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.learn.artefact import LearnedEmbedder, export_encoder
    from nlp_coder.learn.data import labelled_set
    from nlp_coder.learn.finetune import FinetuneSettings, finetune, load_trainable
    from nlp_coder.learn.finetune import encode as torch_encode
    from nlp_coder.run import read_and_segment

    book = load_codebook(REPO / "codebooks" / "working-alliance.yaml")
    labelled = labelled_set(book)
    codes = {c: j for j, c in enumerate(labelled.codes)}
    texts = [f.text for f in read_and_segment(REPO / "corpus").fragments]
    base = load_embedder("default", device="cpu")
    start = time.perf_counter()
    tuned, run = finetune(load_trainable("default", device="cpu"), [p.text for p in labelled.passages],
                          [codes[p.code] for p in labelled.passages], settings=FinetuneSettings(steps=steps))
    print(f"fine-tuned {run.steps} steps in {time.perf_counter() - start:.0f}s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sha, runtime, why = export_encoder(tuned, Path(tmp))
        print(f"exported: {runtime}{f' ({why})' if why else ''}", flush=True)
        learned = LearnedEmbedder(Path(tmp), runtime, sha, "learned")
        ensemble = load_embedder("minilm-use", device="cpu")  # what an ensemble-* method encodes with
        base.encode(texts[:8])
        learned.encode(texts[:8])
        ensemble.encode(texts[:8])
        timings: dict[str, list[float]] = {"base": [], "learned": [], "learned-torch": [], "ensemble": []}
        for _ in range(runs):
            for name, encode in (("base", base.encode), ("learned", learned.encode),
                                 ("learned-torch", lambda t: torch_encode(tuned, t)), ("ensemble", ensemble.encode)):
                start = time.perf_counter()
                encode(texts)
                timings[name].append(len(texts) / (time.perf_counter() - start))
    out = {name: statistics.median(values) for name, values in timings.items()}
    out["ratio"] = out["learned"] / out["base"]
    out["ratio-torch"] = out["learned-torch"] / out["base"]
    out["ratio-ensemble"] = out["ensemble"] / out["base"]
    print(f"{len(texts)} fragments, median of {runs} runs: base {out['base']:.0f}/s ({base.runtime}), "
          f"learned {out['learned']:.0f}/s ({runtime}, max {tuned.max_seq_length} word pieces): "
          f"{out['ratio']:.2f}x; learned on torch {out['learned-torch']:.0f}/s ({out['ratio-torch']:.2f}x); "
          f"the minilm-use ensemble (ensemble-* methods) {out['ensemble']:.0f}/s ({out['ratio-ensemble']:.2f}x)")
    return out


def _shares(decided, truth: Sequence[int | None] | None, codes: Sequence[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    status = [picks[0][0] for picks in decided.picks]
    n = len(status)
    row: dict[str, object] = {s: round(status.count(s) / n, 3) for s in ("coded", "overlap", "uncoded")}
    if truth is not None:
        right = [t >= 0 and decided.codes[picks[0][1][0]].id == codes[t] for picks, t in zip(decided.picks, truth)
                 if picks[0][0] == "coded" and t is not None]
        row["coded precision"] = round(sum(right) / len(right), 3) if right else None
    return row


def _learned(book, encode, store_folder: Path, fine_tune: bool, target: float, base_weights,  # type: ignore[no-untyped-def]
             labelled=None):
    from nlp_coder.learn.artefact import learn_model
    from nlp_coder.learn.data import labelled_set
    from nlp_coder.match.settings import resolve_settings

    trainable = None
    if fine_tune:
        from nlp_coder.learn.finetune import load_trainable

        model = load_trainable("default", device="cpu")

        def trainable():  # type: ignore[no-untyped-def]
            return model
    from benchmarks.evaluate import cached_encoder
    from nlp_coder.learn.artefact import find_ensemble

    ensemble, _ = find_ensemble("default", lambda ens: cached_encoder(CACHE, ens.model_id)[0])
    settings = resolve_settings(book)
    start = time.perf_counter()
    learned, warnings = learn_model(labelled or labelled_set(book), book, settings, encode,
                                    base_model="all-MiniLM-L6-v2", base_weights_sha256=base_weights,
                                    trainable=trainable, folder=store_folder, target_precision=target,
                                    ensemble=ensemble)
    assert learned is not None, warnings
    print(learned.line(), f"({time.perf_counter() - start:.0f}s)", flush=True)
    matcher = learned.matcher(book, settings)
    lookup = learned.encoder.encode if learned.encoder is not None else encode
    return learned, matcher.fit(learned.codebook(book), lookup), (learned.encoder.encode if learned.encoder else encode)


def uncoded(fine_tune: bool = False, target: float = 0.8, max_test: int = 2000,
            only: str | None = None, manifesto: bool = False) -> list[dict[str, object]]:
    from benchmarks.evaluate import annomi_dataset, cached_encoder
    from nlp_coder.codebook import load_codebook
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.match import build_matcher
    from nlp_coder.match.settings import resolve_settings
    from nlp_coder.run import read_and_segment

    CACHE.parent.mkdir(exist_ok=True)
    encode, _ = cached_encoder(CACHE)
    weights = load_embedder("default").weights_sha256
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "learned"
        # The bundled example: no gold codes, the shares only.
        book = load_codebook(REPO / "codebooks" / "working-alliance.yaml")
        fragments = read_and_segment(REPO / "corpus").fragments
        vectors = encode([f.text for f in fragments])
        if only in (None, "bundled"):
            before = build_matcher(resolve_settings(book)).fit(book, encode).decide(vectors, fragments)
            rows.append({"data": "bundled example", "fragments": len(fragments), "when": "before",
                         **_shares(before, None, ())})
            learned, matcher, tuned = _learned(book, encode, folder, fine_tune, target, weights)
            after = matcher.decide(tuned([f.text for f in fragments]) if learned.encoder else vectors, fragments)
            rows.append({"data": "bundled example", "fragments": len(fragments), "when": f"after ({learned.method})",
                         **_shares(after, None, ())})
        if only == "bundled":
            return _table(rows)
        sets = {"AnnoMI therapist K=16": annomi_dataset("therapist")}
        if manifesto:
            from benchmarks.evaluate import manifesto_dataset

            sets["Manifesto UK K=16"] = manifesto_dataset()
        for name, data in sets.items():
            rows.extend(_gold_rows(name, data, encode, Path(tmp), folder, fine_tune, target, weights, max_test))
    return _table(rows)


def _gold_rows(name: str, data, encode, tmp: Path, folder: Path, fine_tune: bool, target: float,  # type: ignore[no-untyped-def]
               weights: str, max_test: int) -> list[dict[str, object]]:
    """Before and after on a hand-coded data set: K = 16 exemplars per code from training
    documents (seed 0), tested on the other documents' single-coded fragments (and, where the
    data set has them, fragments coded with no code, which count against the precision)."""
    from benchmarks.evaluate import load_book
    from nlp_coder.analyses.evaluate import draw_split, gold_documents
    from nlp_coder.learn.data import labelled_set, learnable_codes
    from nlp_coder.match import build_matcher
    from nlp_coder.match.settings import resolve_settings
    from nlp_coder.records import Fragment

    rows: list[dict[str, object]] = []
    base = load_book(data, tmp)
    codes = learnable_codes(base)
    by_id = {g.id: g for g in data.gold}
    split, _ = draw_split(data.gold, codes, 16, 0)
    drawn = dict(split.exemplars)
    book = replace(base, codes=tuple(replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ())))
                                     for c in base.codes))
    test = [g for g in data.gold if g.document in set(split.test_documents) and len(g.codes) <= 1]
    if len(test) > max_test:
        test = [test[i] for i in sorted(np.random.default_rng(0).permutation(len(test))[:max_test])]
    fragments = [Fragment(g.id, g.document, g.speaker, i, 0, len(g.text), g.text) for i, g in enumerate(test)]
    truth = [codes.index(g.codes[0]) if g.codes else -1 for g in test]
    vectors = encode([g.text for g in test])
    settings = resolve_settings(book)
    before = build_matcher(settings).fit(book, encode).decide(vectors, fragments)
    rows.append({"data": name, "fragments": len(test), "when": "before", **_shares(before, truth, codes)})
    for grouping in ("codebook groups", "grouped by document"):
        # The exemplars found in no document (dealt into codebook-* groups), or found in the
        # training documents as suggest finds them in its corpus (each document a group: no
        # document both trained and tested on).
        labelled = None
        if grouping == "grouped by document":
            trained_on = set(split.train_documents)
            labelled = labelled_set(book, corpus=gold_documents([g for g in data.gold if g.document in trained_on]))
        learned, matcher, tuned = _learned(book, encode, folder, fine_tune, target, weights, labelled)
        after = matcher.decide(tuned([g.text for g in test]) if learned.encoder else vectors, fragments)
        cal = learned.calibration
        states = (f"{sum(c.status == 'calibrated' for c in cal.codes)} calibrated, {len(cal.uncalibrated)} not, "
                  f"{len(cal.unreached)} never coded")
        rows.append({"data": name, "fragments": len(test),
                     "when": f"after ({learned.method}, {grouping}, {len(learned.report.folds)} folds; {states})",
                     **_shares(after, truth, codes)})
    return rows


def _table(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    print("| data | fragments | run | coded | overlap | uncoded | precision of coded |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        precision = r.get("coded precision")
        print(f"| {r['data']} | {r['fragments']} | {r['when']} | {r['coded']:.0%} | {r['overlap']:.0%} | "
              f"{r['uncoded']:.0%} | {'–' if precision is None else f'{precision:.2f}'} |")
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--steps", type=int, default=20)
    s.add_argument("--runs", type=int, default=3)
    u = sub.add_parser("uncoded")
    u.add_argument("--fine-tune", action="store_true")
    u.add_argument("--target-precision", type=float, default=0.8)
    u.add_argument("--max-test", type=int, default=2000)
    u.add_argument("--only", choices=("bundled", "annomi"))
    u.add_argument("--manifesto", action="store_true", help="Manifesto UK too (38 codes)")
    args = parser.parse_args(argv)
    if args.what == "speed":
        speed(args.steps, args.runs)
    else:
        uncoded(args.fine_tune, args.target_precision, args.max_test, args.only, args.manifesto)


if __name__ == "__main__":
    main()
